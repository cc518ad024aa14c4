"""manage.py createclient NAME --redirect-uri URI ... : register a client without the admin."""

import json
from argparse import BooleanOptionalAction
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from oidc_provider.apis import client_scopes_change
from oidc_provider.client_settings import RATE_LIMIT_DEFAULT
from oidc_provider.models import KEY_ALGORITHMS, Algorithm, Client, GrantType
from oidc_provider.services import LOGOUT_FIELDS, SUBJECT_FIELDS, client_create


class Command(BaseCommand):
    help = "Create an OpenID Connect client and print its id and secret (the secret is shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        client_setting_arguments(parser, creating=True)
        parser.add_argument("--public", action="store_true", help="a client that cannot keep a secret")
        parser.add_argument("--skip-consent", action="store_true", help="first-party app: no consent page")
        parser.add_argument("--id-token-alg", choices=Algorithm.values, default=Algorithm.RS256)
        parser.add_argument(
            "--userinfo-alg",
            choices=Algorithm.values,
            default="",
            help="sign UserInfo responses with this algorithm (OIDC Core 1.0 §5.3.2; default: plain JSON)",
        )
        parser.add_argument(
            "--access-token-format",
            choices=Client.AccessTokenFormat.values,
            default=Client.AccessTokenFormat.JWT,
            help="jwt (RFC 9068, the default) or opaque",
        )
        parser.add_argument(
            "--access-token-alg",
            choices=[alg.value for alg in KEY_ALGORITHMS],
            default=Algorithm.RS256,
            help="how JWT access tokens are signed (default RS256, which every resource server accepts)",
        )
        parser.add_argument(
            "--no-require-pkce",
            "--no-pkce",
            action="store_false",
            dest="require_pkce",
            help="let a confidential client that cannot send PKCE in (public clients always use it)",
        )
        parser.add_argument("--require-mfa", action="store_true", help="users need a second factor here")
        parser.add_argument(
            "--release-groups", action="store_true", help="the client may ask for the groups scope"
        )
        parser.add_argument("--backchannel-logout-uri", default="", help="where logout tokens are POSTed")
        parser.add_argument(
            "--backchannel-logout-session-required", action="store_true", help="logout tokens must carry sid"
        )
        parser.add_argument("--frontchannel-logout-uri", default="", help="loaded in a frame at sign-out")
        parser.add_argument(
            "--frontchannel-logout-session-required", action="store_true", help="add iss and sid to it"
        )
        client_key_arguments(parser)
        parser.add_argument(
            "--json", action="store_true", help='print {"client_id": ..., "client_secret": ...}'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                client, secret = client_create(
                    name=options["name"],
                    redirect_uris=options["redirect_uris"],
                    post_logout_redirect_uris=options["post_logout_redirect_uris"],
                    allowed_origins=options["allowed_origins"],
                    public=options["public"],
                    grant_types=options["grant_types"],
                    response_types=options["response_types"],
                    skip_consent=options["skip_consent"],
                    algorithm=options["id_token_alg"],
                    userinfo_algorithm=options["userinfo_alg"],
                    access_token_format=options["access_token_format"],
                    access_token_algorithm=options["access_token_alg"],
                    require_pkce=options["require_pkce"],
                    require_mfa=options["require_mfa"],
                    release_groups=options["release_groups"],
                    logout={field: options[field] for field in LOGOUT_FIELDS},
                    subject={field: options[field] for field in SUBJECT_FIELDS},
                    rate_limit=rate_limit_option(options["rate_limit"]),
                    client_keys=client_key_values(options),
                    actor_label="createclient command",
                )
                if options["allow_scopes"]:
                    client_scopes_change(
                        client=client, allow=options["allow_scopes"], actor_label="createclient command"
                    )
        except ValidationError as error:
            raise CommandError("; ".join(error_messages(error))) from error
        if options["json"]:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
            return
        self.stdout.write(f"client_id:     {client.client_id}")
        if secret:
            self.stdout.write(f"client_secret: {secret}")
            self.stdout.write("Store the secret now: it is not shown again.")


def error_messages(error: ValidationError) -> list[str]:
    """Return each problem in ``error`` as "field: message", for the client commands' errors."""
    if hasattr(error, "message_dict"):
        return [f"{field}: {msg}" for field, msgs in error.message_dict.items() for msg in msgs]
    return list(error.messages)


def rate_limit_option(value: str) -> str:
    """Return the ``rate_limit`` field's value for a ``--rate-limit`` option ("default": blank)."""
    return "" if value.strip().lower() == RATE_LIMIT_DEFAULT else value.strip()


def client_setting_arguments(parser: CommandParser, *, creating: bool) -> None:
    """Add the settings options createclient and updateclient share.

    Creating, an option not given takes the new client's default; updating, it is None (the
    setting stays as it is) and a list given replaces the current one.
    """
    lists: list[str] | None = [] if creating else None
    parser.add_argument("--redirect-uri", action="append", default=lists, dest="redirect_uris")
    parser.add_argument(
        "--post-logout-redirect-uri", action="append", default=lists, dest="post_logout_redirect_uris"
    )
    parser.add_argument("--allowed-origin", action="append", default=lists, dest="allowed_origins")
    parser.add_argument(
        "--grant-type",
        action="append",
        choices=GrantType.values,
        dest="grant_types",
        help="repeat for several (default: authorization_code and refresh_token)" if creating else None,
    )
    parser.add_argument(
        "--response-type",
        action="append",
        dest="response_types",
        metavar="TYPE",
        help=(
            "a response type the client may use, repeatable (default: code). The implicit and hybrid "
            "types (id_token, 'id_token token', 'code id_token', 'code token', 'code id_token token') "
            "send tokens through the browser: docs/clients.md, Implicit and hybrid flows"
        )
        if creating
        else (
            "a response type the client may use, repeatable; the list replaces the current one. "
            "Types other than code send tokens through the browser (docs/clients.md)"
        ),
    )
    parser.add_argument(
        "--allow-scope",
        action="append",
        default=[],
        dest="allow_scopes",
        metavar="SCOPE",
        help="an API scope the client may ask for (repeatable; docs/apis.md)",
    )
    parser.add_argument(
        "--subject-type",
        choices=Client.SubjectType.values,
        default=Client.SubjectType.PUBLIC if creating else None,
        help="pairwise: the app sees a sub of its own sector for each person (OIDC Core 1.0 §8)",
    )
    parser.add_argument(
        "--sector-identifier-uri",
        default="" if creating else None,
        help="https URL of a JSON array listing the redirect URIs of the apps in the sector"
        + ("" if creating else ' ("" removes it)'),
    )
    parser.add_argument(
        "--rate-limit",
        default=RATE_LIMIT_DEFAULT if creating else None,
        help="requests per window at the token, introspection, revocation, UserInfo and device "
        "endpoints: REQUESTS/SECONDS (e.g. 600/60), unlimited, or default (PORCHLIGHT_CLIENT_RATE_LIMIT)",
    )


def client_key_arguments(parser: CommandParser) -> None:
    """Add the options for how a client authenticates, its public keys and its request objects."""
    parser.add_argument(
        "--auth-method",
        choices=Client.AuthMethod.values,
        help="how a confidential client authenticates (OIDC Core 1.0 §9; default client_secret_basic)",
    )
    parser.add_argument(
        "--auth-signing-alg", help="the only algorithm accepted for its client assertions (blank: any)"
    )
    parser.add_argument("--jwks-file", help="a file with the client's public keys, as a JWK Set (JSON)")
    parser.add_argument("--jwks-uri", help='an https URL serving its JWK Set ("" removes it)')
    parser.add_argument(
        "--request-object-alg", help='the only algorithm accepted for its request objects ("none": unsigned)'
    )
    parser.add_argument(
        "--require-signed-request-object",
        action=BooleanOptionalAction,
        help="authorization requests must come in a signed request object (RFC 9101 §10.5)",
    )
    parser.add_argument(
        "--request-uri",
        action="append",
        dest="request_uris",
        help="an https URL its request objects may be fetched from (repeatable)",
    )


def client_key_values(options: dict[str, Any]) -> dict[str, Any]:
    """Return the ``client_keys`` fields the options give; a JWK Set is read from its file."""
    values: dict[str, Any] = {}
    names = {
        "auth_method": "token_endpoint_auth_method",
        "auth_signing_alg": "token_endpoint_auth_signing_alg",
        "request_object_alg": "request_object_signing_alg",
        "require_signed_request_object": "require_signed_request_object",
    }
    for option, field in names.items():
        if options.get(option) is not None:
            values[field] = options[option]
    if options.get("request_uris") is not None:
        values["request_uris"] = " ".join(options["request_uris"])
    if options.get("jwks_file") and options.get("jwks_uri"):
        raise CommandError("Give --jwks-file or --jwks-uri, not both (OIDC Registration 1.0 §2).")
    if options.get("jwks_file"):
        try:
            with open(options["jwks_file"], encoding="utf-8") as file:
                values["jwks"] = json.load(file)
        except (OSError, ValueError) as error:
            raise CommandError(f"--jwks-file: {error}") from error
        values["jwks_uri"] = ""
    elif options.get("jwks_uri") is not None:
        values["jwks_uri"] = options["jwks_uri"].strip()
        values["jwks"] = None
    return values
