"""manage.py deleteapi IDENTIFIER [--yes] [--json]: remove an API, its scopes and roles."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.apis import api_delete, api_find


class Command(BaseCommand):
    help = (
        "Delete an API with its scopes (and every client's allowance of them) and its roles. Access "
        "tokens already issued for it stay valid until they expire; refreshed, they no longer carry "
        "its scopes. Asks first unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identifier")
        parser.add_argument(
            "--yes", "--no-input", action="store_false", dest="interactive", help="do not ask to confirm"
        )
        parser.add_argument("--json", action="store_true", help='print {"identifier": ..., "deleted": true}')

    def handle(self, *args: Any, **options: Any) -> None:
        api = api_find(options["identifier"])
        if api is None:
            raise CommandError(f"No API is registered as {options['identifier']!r}.")
        if options["interactive"]:
            answer = input(f"Delete {api.name} ({api.identifier}), its scopes and roles? Type 'yes': ")
            if answer.strip() != "yes":
                raise CommandError("Nothing deleted.")
        api_delete(api=api, actor_label="deleteapi command")
        if options["json"]:
            self.stdout.write(json.dumps({"identifier": options["identifier"], "deleted": True}))
        else:
            self.stdout.write(
                f"Deleted {options['identifier']}. Tokens issued for it stay valid until they expire."
            )
