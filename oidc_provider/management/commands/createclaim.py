"""manage.py createclaim NAME --label ... --type ... --scope ... : define a custom claim without the admin."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.attributes import Kind
from oidc_provider.services import claim_define, claim_definition_describe

from .createclient import error_messages


class Command(BaseCommand):
    help = "Define a claim of your own: a user attribute released by a scope (docs/claims.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the claim's name in tokens, e.g. department or a URL")
        parser.add_argument("--label", required=True, help="what users read, e.g. Department")
        parser.add_argument("--type", choices=Kind.values, default=Kind.STRING, dest="claim_type")
        parser.add_argument(
            "--scope", required=True, help="profile, email, address, phone, or an identity scope"
        )
        parser.add_argument(
            "--scope-description",
            default="",
            help="define the scope as a new identity scope, with what the consent page says it shares",
        )
        parser.add_argument("--description", default="", help="help text under the profile field")
        parser.add_argument("--editable", action="store_true", help="users may edit it on their profile")
        parser.add_argument("--id-token", action="store_true", help="released into ID tokens with its scope")
        parser.add_argument(
            "--no-userinfo", action="store_false", dest="userinfo", help="not released by UserInfo"
        )
        parser.add_argument("--json", action="store_true", help="print the definition as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            definition = claim_define(
                name=options["name"],
                label=options["label"],
                type=options["claim_type"],
                scope=options["scope"],
                scope_description=options["scope_description"],
                user_editable=options["editable"],
                in_id_token=options["id_token"],
                in_userinfo=options["userinfo"],
                description=options["description"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error_messages(error))) from error
        described = claim_definition_describe(definition)
        if options["json"]:
            self.stdout.write(json.dumps(described))
            return
        self.stdout.write(
            f"Defined claim {definition.name} ({definition.type}), released by {definition.scope}."
        )
