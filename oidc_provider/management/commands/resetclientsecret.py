"""manage.py resetclientsecret CLIENT_ID [--json]: give a confidential client a new secret, shown once."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.models import Client
from oidc_provider.services import client_secret_set

from .createclient import error_messages


class Command(BaseCommand):
    help = "Give a confidential client a new generated secret and print it once; the old one stops working."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument(
            "--json", action="store_true", help='print {"client_id": ..., "client_secret": ...}'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(client_id=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client has the id {options['client_id']!r}.")
        try:
            secret = client_secret_set(client=client, actor_label="resetclientsecret command")
        except ValidationError as error:
            raise CommandError("; ".join(error_messages(error))) from error
        if options["json"]:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
            return
        self.stdout.write(f"client_id:     {client.client_id}")
        self.stdout.write(f"client_secret: {secret}")
        self.stdout.write("Store the secret now: it is not shown again. The old secret no longer works.")
