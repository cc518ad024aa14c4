"""The provider's discovery document (OIDC Discovery 1.0 §3, RFC 8414 §2)."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from oauth2_provider.settings import oauth2_settings

from accounts.languages import ui_locales_supported

from . import keys, response_types
from .authorization import CODE_CHALLENGE_METHODS, RESPONSE_MODES, prompt_values
from .claims import supported_claims
from .client_auth import ASSERTION_ALGORITHMS, AUTH_METHODS
from .custom_claims import catalogue
from .logout import LOGOUT_DISCOVERY
from .mfa_policy import ACR_LEVELS
from .models import GrantType, ResponseType
from .request_objects import REQUEST_OBJECT_ALGORITHMS
from .scopes import public_scopes


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str


_cached: tuple[tuple[str, str, str, str, str], Document] | None = None


def _url(name: str) -> str:
    issuer: str = oauth2_settings.OIDC_ISS_ENDPOINT
    return issuer + reverse(name)


def build() -> dict[str, Any]:
    """Return the discovery document as a dict, listing only what Porchlight really does."""
    optional = list(response_types.enabled())
    return {
        "issuer": oauth2_settings.OIDC_ISS_ENDPOINT,
        "authorization_endpoint": _url("oidc_provider:authorize"),
        "token_endpoint": _url("oidc_provider:token"),
        "userinfo_endpoint": _url("oidc_provider:userinfo"),
        "jwks_uri": _url("oidc_provider:jwks"),
        "end_session_endpoint": _url("oidc_provider:end-session"),
        "introspection_endpoint": _url("oidc_provider:introspect"),
        "revocation_endpoint": _url("oidc_provider:revoke"),
        # OIDC Discovery 1.0 §3 / RFC 8414 §2; needs an initial access token unless open (RFC 7591 §3).
        "registration_endpoint": _url("oidc_provider:register"),
        # RFC 8628 §4.
        "device_authorization_endpoint": _url("oidc_provider:device-authorization"),
        "scopes_supported": public_scopes(),
        # code, and the implicit and hybrid types some client turned on (response_types.py).
        "response_types_supported": [ResponseType.CODE.value, *optional],
        # Multiple Response Types §2.1: the fragment only for those, which never use the query.
        "response_modes_supported": [*RESPONSE_MODES, *(["fragment"] if optional else [])],
        # Every grant a client can be registered for, and nothing else reaches oauthlib (token.py);
        # "implicit" is the name registration gives the front-channel types (RFC 7591 §2.1).
        "grant_types_supported": [*GrantType.values, *(["implicit"] if optional else [])],
        # OIDC Core 1.0 §8: per client (Client.subject_type, oidc_provider/subjects.py).
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": keys.id_token_algorithms(),
        # OIDC Discovery 1.0 §3: registration (metadata_parse) accepts the same list for
        # userinfo_signed_response_alg, and signed_userinfo.py signs with it.
        "userinfo_signing_alg_values_supported": keys.id_token_algorithms(),
        # OIDC Core 1.0 §9: the methods client_auth.py accepts, with the algorithms it verifies.
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # RFC 7662 §2.1: introspection needs an authenticated (confidential) client.
        "introspection_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": list(CODE_CHALLENGE_METHODS),
        "claims_supported": supported_claims(),
        # OIDC Core 1.0 §5.5 (requested_claims.py); normal claims only (§5.6): none aggregated or distributed.
        "claims_parameter_supported": True,
        "claim_types_supported": ["normal"],
        # OIDC Core 1.0 §6, RFC 9101 (request_objects.py): request URIs must be registered.
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGORITHMS),
        # Prompt Create 1.0 §4.2: "create" exactly while sign-up is open (PORCHLIGHT_SIGNUP).
        "prompt_values_supported": list(prompt_values()),
        "acr_values_supported": list(ACR_LEVELS),
        "authorization_response_iss_parameter_supported": True,
        # Discovery 1.0 §3: the languages of the pages, exactly those with a catalog (LANGUAGES).
        "ui_locales_supported": ui_locales_supported(),
        **LOGOUT_DISCOVERY,
    }


def document() -> Document:
    """Return the serialized document, rebuilt only when the key set (or process) changes."""
    global _cached
    # Custom claims and identity scopes change claims_supported and scopes_supported; a client
    # turning a response type on or off changes response_types_supported.
    version = (
        keys.key_set().etag,
        oauth2_settings.OIDC_ISS_ENDPOINT,
        catalogue().version,
        " ".join(response_types.enabled()),
        " ".join(prompt_values()),
    )
    if _cached is None or _cached[0] != version:
        body = json.dumps(build(), indent=None, separators=(",", ":")).encode()
        _cached = (version, Document(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"'))
    return _cached[1]
