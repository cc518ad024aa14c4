"""manage.py listclients [--json]: the registered clients, one a line."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from oidc_provider.client_settings import client_description
from oidc_provider.models import Client


class Command(BaseCommand):
    help = "List the registered OpenID Connect clients (never their secrets)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print a JSON array of client descriptions")

    def handle(self, *args: Any, **options: Any) -> None:
        clients = [client_description(client) for client in Client.objects.order_by("name", "pk")]
        if options["json"]:
            self.stdout.write(json.dumps(clients, indent=2))
            return
        for client in clients:
            self.stdout.write(f"{client['client_id']}  {client['kind']:<8} {client['name']}")
