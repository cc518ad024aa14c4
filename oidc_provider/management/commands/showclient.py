"""manage.py showclient CLIENT_ID [--json]: one client's registration."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.client_settings import client_description, provider_urls
from oidc_provider.models import Client


class Command(BaseCommand):
    help = "Show a client's registration and the provider's addresses (never the secret)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("--json", action="store_true", help="print a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(client_id=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client has the id {options['client_id']!r}.")
        description = {**client_description(client), **provider_urls()}
        if options["json"]:
            self.stdout.write(json.dumps(description, indent=2))
            return
        for key, value in description.items():
            shown = " ".join(str(item) for item in value) if isinstance(value, list) else value
            self.stdout.write(f"{key + ':':<28}{shown}")
