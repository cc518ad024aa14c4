"""A client's registration as its developer and staff read it: the admin's hand-over panel and the
client commands' ``--json`` output come from here, so they always agree.
"""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from ground.rates import UNLIMITED

from .models import Client, GrantType

# What the client commands take and show for "no limit of its own".
RATE_LIMIT_DEFAULT = "default"


class Kind:
    """The kinds of app the admin offers, in plain words, with the settings each implies."""

    WEB = "web"
    NATIVE = "native"
    MACHINE = "machine"

    LABELS = {
        WEB: _("Web server app"),
        NATIVE: _("Single-page or native app"),
        MACHINE: _("Machine-to-machine"),
    }
    HELP = {
        WEB: _("Runs on a server that can keep a secret (Django, Rails, Spring, PHP…). Signs people in."),
        NATIVE: _(
            "Runs in the browser or on a phone, desktop or TV and cannot keep a secret. "
            "Signs people in with PKCE."
        ),
        MACHINE: _("A service or script that calls APIs as itself, with no person signing in."),
    }
    # What each kind may use: RFC 8628 device sign-in suits apps on devices (TVs, CLIs).
    # RFC 8693 token exchange needs a client that authenticates: an API's server-side client.
    GRANT_TYPES: dict[str, list[str]] = {
        WEB: [
            GrantType.AUTHORIZATION_CODE,
            GrantType.REFRESH_TOKEN,
            GrantType.CLIENT_CREDENTIALS,
            GrantType.TOKEN_EXCHANGE,
        ],
        NATIVE: [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN, GrantType.DEVICE_CODE],
        MACHINE: [GrantType.CLIENT_CREDENTIALS, GrantType.TOKEN_EXCHANGE],
    }
    DEFAULT_GRANT_TYPES: dict[str, list[str]] = {
        WEB: [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        NATIVE: [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        MACHINE: [GrantType.CLIENT_CREDENTIALS],
    }
    CLIENT_TYPES = {
        WEB: Client.CLIENT_CONFIDENTIAL,
        NATIVE: Client.CLIENT_PUBLIC,
        MACHINE: Client.CLIENT_CONFIDENTIAL,
    }

    @classmethod
    def of(cls, client: Client) -> str:
        """Return the kind of app ``client`` is."""
        if client.client_type == Client.CLIENT_PUBLIC:
            return cls.NATIVE
        machine = {GrantType.CLIENT_CREDENTIALS, GrantType.TOKEN_EXCHANGE}
        if client.grant_types and set(client.grant_types) <= machine:
            return cls.MACHINE
        return cls.WEB


def provider_urls() -> dict[str, str]:
    """Return the issuer and the discovery document's address (OIDC Discovery 1.0 §4)."""
    issuer = oauth2_settings.OIDC_ISS_ENDPOINT
    return {"issuer": issuer, "discovery_url": issuer + reverse("openid-configuration")}


def client_description(client: Client) -> dict[str, Any]:
    """Return ``client``'s registration as JSON-ready data; never its secret or the secret's hash."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "kind": Kind.of(client),
        "client_type": client.client_type,
        "grant_types": list(client.grant_types or []),
        # Beyond "code": the implicit and hybrid flows this client turned on (response_types.py).
        "response_types": list(client.response_types or []),
        "redirect_uris": client.redirect_uris.split(),
        "post_logout_redirect_uris": client.post_logout_redirect_uris.split(),
        "allowed_origins": client.allowed_origins.split(),
        "token_endpoint_auth_method": (
            "none" if client.client_type == Client.CLIENT_PUBLIC else client.token_endpoint_auth_method
        ),
        "token_endpoint_auth_signing_alg": client.token_endpoint_auth_signing_alg,
        # Public keys only (client_keys.py): nothing secret.
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "request_object_signing_alg": client.request_object_signing_alg,
        "require_signed_request_object": client.require_signed_request_object,
        "request_uris": client.request_uris.split(),
        "id_token_signed_response_alg": client.algorithm,
        # OIDC Registration 1.0 §2; "" when UserInfo answers plain JSON.
        "userinfo_signed_response_alg": client.userinfo_signed_response_alg,
        "access_token_format": client.access_token_format,
        "access_token_signed_response_alg": client.access_token_algorithm,
        "skip_consent": client.skip_authorization,
        "require_pkce": client.require_pkce,
        "require_mfa": client.require_mfa,
        "release_groups": client.release_groups,
        "subject_type": client.subject_type,
        "sector_identifier_uri": client.sector_identifier_uri,
        "may_introspect": client.may_introspect,
        # The API scopes staff allowed it (docs/apis.md).
        "allowed_scopes": sorted(client.allowed_scopes.values_list("name", flat=True)) if client.pk else [],
        # RFC 8693: the APIs whose access tokens this client may exchange (docs/apis.md).
        "token_exchange_apis": sorted(api.identifier for api in client.token_exchange_apis.all())
        if client.pk
        else [],
        # The client's own budget ("default": PORCHLIGHT_CLIENT_RATE_LIMIT), and what applies.
        "rate_limit": client.rate_limit or RATE_LIMIT_DEFAULT,
        "effective_rate_limit": str(client.request_rate or UNLIMITED),
        "created": client.created.isoformat() if client.created else None,
        "updated": client.updated.isoformat() if client.updated else None,
    }
