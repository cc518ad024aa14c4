"""manage.py listclaims [--json]: the claims staff defined, one a line."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from oidc_provider.models import ClaimDefinition
from oidc_provider.services import claim_definition_describe


class Command(BaseCommand):
    help = "List the claims defined here beyond the standard ones (docs/claims.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print a JSON array of claim definitions")

    def handle(self, *args: Any, **options: Any) -> None:
        claims = [claim_definition_describe(claim) for claim in ClaimDefinition.objects.order_by("name")]
        if options["json"]:
            self.stdout.write(json.dumps(claims, indent=2))
            return
        for claim in claims:
            places = [place for place in ("id_token", "userinfo") if claim[f"in_{place}"]]
            editable = "user-editable" if claim["user_editable"] else "staff-set"
            self.stdout.write(
                f"{claim['name']}  {claim['type']:<11} {claim['scope']:<12} "
                f"{','.join(places) or '-':<17} {editable}"
            )
