"""manage.py createapi IDENTIFIER --name NAME [--scope NAME="Description" …] …: register an API."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.apis import api_save, api_settings
from oidc_provider.models import KEY_ALGORITHMS, Api, Client

from .createclient import error_messages


def add_api_options(parser: CommandParser) -> None:
    """Add the options createapi and updateapi share."""
    parser.add_argument("identifier", help="the API's absolute URI: its tokens' aud, the RFC 8707 resource")
    parser.add_argument("--name", help="shown to people on the consent page")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        dest="scopes",
        metavar='NAME="DESCRIPTION"',
        help="a scope of the API and what it allows, in plain words (repeatable)",
    )
    parser.add_argument(
        "--claim",
        action="append",
        default=[],
        dest="claims",
        metavar="CLAIM",
        help="an identity claim its access tokens carry, e.g. email or groups (repeatable)",
    )
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        dest="roles",
        metavar='NAME="DESCRIPTION"',
        help="a role of the API (repeatable); assignrole gives it to users and groups",
    )
    parser.add_argument("--format", choices=Client.AccessTokenFormat.values, help="access token format")
    parser.add_argument("--lifetime", type=int, help="access token lifetime in seconds")
    parser.add_argument(
        "--algorithm", choices=[alg.value for alg in KEY_ALGORITHMS], help="access token signing algorithm"
    )
    parser.add_argument(
        "--keycloak-roles",
        action="store_true",
        help="also put roles in Keycloak's realm_access/resource_access",
    )
    parser.add_argument("--json", action="store_true", help="print the API as JSON")


def named_descriptions(values: list[str], option: str) -> dict[str, str]:
    """Parse ``NAME=Description`` values; refuse one without a description."""
    parsed: dict[str, str] = {}
    for value in values:
        name, sign, description = value.partition("=")
        if not sign or not name.strip():
            raise CommandError(f'--{option} takes NAME="Description", not {value!r}.')
        parsed[name.strip()] = description.strip()
    return parsed


def api_write(
    command: BaseCommand, api: Api, options: dict[str, Any], *, actor_label: str, **changes: Any
) -> None:
    """Save ``api`` with the command's changes, then print it (as JSON with --json)."""
    for field in ("name", "format", "lifetime", "algorithm"):
        if options[field] is not None:
            setattr(api, field, options[field])
    try:
        api_save(api=api, actor_label=actor_label, **changes)
    except ValidationError as error:
        raise CommandError("; ".join(error_messages(error))) from error
    api_print(command, api, as_json=options["json"])


def api_print(command: BaseCommand, api: Api, *, as_json: bool) -> None:
    """Print ``api`` as showapi does: ``key: value`` lines, or a JSON object."""
    settings = api_settings(api)
    if as_json:
        command.stdout.write(json.dumps(settings, indent=2))
        return
    for key, value in settings.items():
        if isinstance(value, dict):
            command.stdout.write(f"{key + ':':<16}")
            for name, description in value.items():
                command.stdout.write(f"  {name:<24}{description}")
        else:
            shown = " ".join(str(item) for item in value) if isinstance(value, list) else value
            command.stdout.write(f"{key + ':':<16}{'' if shown is None else shown}")


class Command(BaseCommand):
    help = "Register an API (resource server) with its scopes, token settings, claims and roles."

    def add_arguments(self, parser: CommandParser) -> None:
        add_api_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if Api.objects.filter(identifier=options["identifier"]).exists():
            raise CommandError(f"An API is already registered as {options['identifier']!r}; use updateapi.")
        api = Api(
            identifier=options["identifier"],
            token_claims=list(options["claims"]),
            keycloak_roles=options["keycloak_roles"],
        )
        api_write(
            self,
            api,
            options,
            scopes=named_descriptions(options["scopes"], "scope"),
            roles=named_descriptions(options["roles"], "role"),
            created=True,
            actor_label="createapi command",
        )
