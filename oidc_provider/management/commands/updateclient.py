"""manage.py updateclient CLIENT_ID [--redirect-uri URI …] [--grant-type TYPE …] …: change a client."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from oidc_provider.apis import client_exchange_apis_change, client_scopes_change
from oidc_provider.client_settings import client_description
from oidc_provider.models import Algorithm, Client
from oidc_provider.services import client_secret_set, client_update

from .createclient import (
    client_key_arguments,
    client_key_values,
    client_setting_arguments,
    error_messages,
    rate_limit_option,
)

# What --userinfo-alg takes for an unsigned (plain JSON) UserInfo response.
USERINFO_PLAIN = "none"


class Command(BaseCommand):
    help = (
        "Change a client's name, redirect URIs, post-logout redirect URIs, allowed origins, grant "
        "types, response types, subject type, sector identifier URI, UserInfo signing algorithm or "
        "rate limit, or allow it API scopes. Each list given replaces the current one; what is not "
        "given stays as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("--name")
        client_setting_arguments(parser, creating=False)
        for name in ("redirect-uris", "post-logout-redirect-uris", "allowed-origins"):
            parser.add_argument(
                f"--clear-{name}", action="store_true", help=f"remove every one of the {name}"
            )
        parser.add_argument(
            "--disallow-scope",
            action="append",
            default=[],
            dest="disallow_scopes",
            metavar="SCOPE",
            help="take this API scope from the client (repeatable)",
        )
        parser.add_argument(
            "--allow-exchange-from",
            action="append",
            default=[],
            metavar="API_IDENTIFIER",
            help="let the client exchange access tokens for this API for tokens to another (RFC 8693)",
        )
        parser.add_argument(
            "--disallow-exchange-from",
            action="append",
            default=[],
            metavar="API_IDENTIFIER",
            help="stop the client exchanging access tokens for this API",
        )
        parser.add_argument(
            "--userinfo-alg",
            choices=[*Algorithm.values, USERINFO_PLAIN],
            help="sign UserInfo responses with this algorithm (OIDC Core 1.0 §5.3.2); none: plain JSON",
        )
        client_key_arguments(parser)
        parser.add_argument(
            "--reset-secret",
            action="store_true",
            help="give the client a new secret in the same change (needed to switch to client_secret_jwt)",
        )
        parser.add_argument("--json", action="store_true", help="print the client's registration as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(client_id=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client has the id {options['client_id']!r}.")

        # A list given replaces the current one, --clear-... empties it, neither leaves it.
        def given(field: str) -> list[str] | None:
            return [] if options[f"clear_{field}"] else options[field]

        try:
            # One change: settings, API scopes and exchange APIs are written together or not at all.
            with transaction.atomic():
                secret = None
                if options["reset_secret"]:
                    secret = client_secret_set(client=client, save=False, actor_label="updateclient command")
                changed = client_update(
                    client=client,
                    name=options["name"],
                    redirect_uris=given("redirect_uris"),
                    post_logout_redirect_uris=given("post_logout_redirect_uris"),
                    allowed_origins=given("allowed_origins"),
                    grant_types=options["grant_types"],
                    response_types=options["response_types"],
                    subject_type=options["subject_type"],
                    sector_identifier_uri=options["sector_identifier_uri"],
                    userinfo_signed_response_alg=None
                    if options["userinfo_alg"] is None
                    else ("" if options["userinfo_alg"] == USERINFO_PLAIN else options["userinfo_alg"]),
                    rate_limit=None
                    if options["rate_limit"] is None
                    else rate_limit_option(options["rate_limit"]),
                    client_keys=client_key_values(options),
                    actor_label="updateclient command",
                )
                if secret is not None:
                    if not changed:
                        client.save()
                    changed.append("client_secret")
                if options["allow_scopes"] or options["disallow_scopes"]:
                    client_scopes_change(
                        client=client,
                        allow=options["allow_scopes"],
                        disallow=options["disallow_scopes"],
                        actor_label="updateclient command",
                    )
                    changed.append("allowed_scopes")
                allow, disallow = options["allow_exchange_from"], options["disallow_exchange_from"]
                if allow or disallow:
                    before = sorted(client.token_exchange_apis.values_list("identifier", flat=True))
                    after = client_exchange_apis_change(
                        client=client, allow=allow, disallow=disallow, actor_label="updateclient command"
                    )
                    if after != before:
                        changed.append("token_exchange_apis")
        except ValidationError as error:
            raise CommandError("; ".join(error_messages(error))) from error
        if options["json"]:
            shown = {**client_description(client), "changed": changed}
            if secret is not None:
                shown["client_secret"] = secret
            self.stdout.write(json.dumps(shown, indent=2))
            return
        if not changed:
            self.stdout.write("Nothing to change.")
            return
        self.stdout.write(f"Changed {', '.join(changed)} of {client.client_id}.")
        if secret is not None:
            self.stdout.write(f"client_secret: {secret}")
            self.stdout.write("Store the secret now: it is not shown again.")
