"""manage.py listapis [--json]: the registered APIs, one a line."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from oidc_provider.apis import api_settings
from oidc_provider.models import Api


class Command(BaseCommand):
    help = "List the registered APIs (resource servers) and their scopes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print a JSON array of API descriptions")

    def handle(self, *args: Any, **options: Any) -> None:
        apis = [api_settings(api) for api in Api.objects.prefetch_related("scopes", "roles")]
        if options["json"]:
            self.stdout.write(json.dumps(apis, indent=2))
            return
        for api in apis:
            self.stdout.write(f"{api['identifier']}  {api['name']}  {' '.join(api['scopes'])}")
