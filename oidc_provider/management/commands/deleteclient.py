"""manage.py deleteclient CLIENT_ID [--no-input] [--json]: remove a client and everything it holds."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.models import Client
from oidc_provider.services import client_delete


class Command(BaseCommand):
    help = "Delete a client with its tokens, codes and consents. Asks first unless --no-input."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="do not ask to confirm"
        )
        parser.add_argument("--json", action="store_true", help='print {"client_id": ..., "deleted": true}')

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(client_id=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client has the id {options['client_id']!r}.")
        if options["interactive"]:
            answer = input(
                f"Delete {client.name} ({client.client_id}) and every token it holds? Type 'yes': "
            )
            if answer.strip() != "yes":
                raise CommandError("Nothing deleted.")
        client_delete(client=client, actor_label="deleteclient command")
        if options["json"]:
            self.stdout.write(json.dumps({"client_id": options["client_id"], "deleted": True}))
        else:
            self.stdout.write(f"Deleted {options['client_id']}.")
