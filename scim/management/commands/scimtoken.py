"""manage.py scimtoken NAME: make a SCIM provisioning client and print its bearer token once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scim.models import ProvisioningClient
from scim.tokens import provisioning_client_create


class Command(BaseCommand):
    help = "Make a SCIM provisioning client named NAME and print its bearer token, shown only this once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="which system provisions with it, e.g. 'Microsoft Entra'")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("Give the client a name of 1 to 100 characters.")
        if ProvisioningClient.objects.filter(name=name, revoked__isnull=True).exists():
            raise CommandError(
                f"A live SCIM client is named {name!r}: revoke it in the admin first, or pick another name."
            )
        _client, token = provisioning_client_create(name=name, actor_label="scimtoken command")
        self.stdout.write(f"SCIM client: {name}")
        self.stdout.write(f"Token:       {token}")
        self.stdout.write(
            "Store the token now: it is not shown again. Send it as 'Authorization: Bearer <token>'."
        )
