"""manage.py showapi IDENTIFIER [--json]: one API, its scopes, roles and the clients allowed them."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.apis import api_find

from .createapi import api_print


class Command(BaseCommand):
    help = "Show an API: its token settings, claims, scopes, roles and the clients allowed its scopes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identifier")
        parser.add_argument("--json", action="store_true", help="print a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        api = api_find(options["identifier"])
        if api is None:
            raise CommandError(f"No API is registered as {options['identifier']!r}.")
        api_print(self, api, as_json=options["json"])
