"""manage.py updateapi IDENTIFIER [--scope NAME="…"] [--remove-scope NAME] …: change an API."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.apis import api_find

from .createapi import add_api_options, api_write, named_descriptions


class Command(BaseCommand):
    help = (
        "Change an API: a --scope adds a scope or describes it anew, --remove-scope deletes one (and "
        "every client's allowance of it), --claim and --remove-claim change its tokens' claims. "
        "What is not given stays as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_api_options(parser)
        parser.add_argument(
            "--remove-scope", action="append", default=[], dest="remove_scopes", metavar="NAME"
        )
        parser.add_argument(
            "--remove-claim",
            action="append",
            default=[],
            dest="remove_claims",
            metavar="CLAIM",
        )
        parser.add_argument("--no-keycloak-roles", action="store_true", help="stop the Keycloak role shapes")

    def handle(self, *args: Any, **options: Any) -> None:
        api = api_find(options["identifier"])
        if api is None:
            raise CommandError(f"No API is registered as {options['identifier']!r}.")
        claims = [claim for claim in api.token_claims if claim not in options["remove_claims"]]
        api.token_claims = [*claims, *(claim for claim in options["claims"] if claim not in claims)]
        if options["keycloak_roles"] and options["no_keycloak_roles"]:
            raise CommandError("Give --keycloak-roles or --no-keycloak-roles, not both.")
        if options["keycloak_roles"] or options["no_keycloak_roles"]:
            api.keycloak_roles = options["keycloak_roles"]
        api_write(
            self,
            api,
            options,
            scopes=named_descriptions(options["scopes"], "scope"),
            remove_scopes=options["remove_scopes"],
            roles=named_descriptions(options["roles"], "role"),
            actor_label="updateapi command",
        )
