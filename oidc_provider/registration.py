"""Dynamic client registration: initial access tokens and client metadata (RFC 7591, OIDC Registration 1.0).

DOT's own registration view (3.4) maps a client to one DOT grant type and sets no ID token
algorithm, so its clients cannot get ID tokens (docs/design.md, gap 9). Here the metadata's shape is
checked against what Porchlight really does and the client is made by ``services.client_create``,
like every other client, so ``Client.clean()`` judges its URIs as it judges any client's, and its
name by the rule for apps that register themselves (DOT's ``registration_source`` "dcr").
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum

from . import keys
from .apis import api_scope_names
from .client_auth import AUTH_METHODS as AUTH_METHOD_VALUES
from .models import (
    Algorithm,
    ApiScope,
    Client,
    ClientRegistration,
    GrantType,
    RegistrationToken,
    ResponseType,
)
from .redirect_uris import private_use_scheme
from .response_types import front_channel, response_type_normalized, returns_code
from .services import LOGOUT_FIELDS, client_create

MAX_URIS = 20
MAX_NAME_LENGTH = 255
# OIDC Core 1.0 §9: every method client_auth.py accepts.
AUTH_METHODS = AUTH_METHOD_VALUES
# RFC 7591 §2: the grant type of the front-channel response types (response_types.py).
IMPLICIT = "implicit"
# Known metadata Porchlight cannot honour: ignoring it would leave the client expecting
# encrypted or signed responses it will never get.
REFUSED_METADATA = (
    "id_token_encrypted_response_alg",
    "userinfo_encrypted_response_alg",
)


class RegistrationError(Exception):
    """Client metadata Porchlight refuses; ``error`` is an RFC 7591 §3.2.2 code."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


@transaction.atomic
def registration_token_create(
    *, label: str, expires: datetime, max_uses: int | None = None, created_by: User | None = None
) -> tuple[RegistrationToken, str]:
    """Create an initial access token and return it with its cleartext value (shown once)."""
    value = secrets.token_urlsafe(32)
    token = RegistrationToken.objects.create(
        label=label,
        token_hash=token_checksum(value),
        expires=expires,
        max_uses=max_uses,
        created_by=created_by,
    )
    audit_record(
        action=Action.REGISTRATION_TOKEN_CREATE,
        target=label,
        actor=created_by,
        detail={"expires": expires.isoformat(), "max_uses": max_uses},
    )
    return token, value


def registration_token_find(value: str) -> RegistrationToken | None:
    """Return the usable initial access token with this value, or None."""
    token = RegistrationToken.objects.filter(token_hash=token_checksum(value)).first()
    return token if token is not None and token.is_usable() else None


@dataclass(frozen=True)
class Metadata:
    """Client metadata as registered (RFC 7591 §2), ready for ``client_create``."""

    client_name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    application_type: str
    # OIDC Registration 1.0 §2; "" (not asked): UserInfo answers plain JSON (OIDC Core 1.0 §5.3.2).
    userinfo_signed_response_alg: str = ""
    # Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2 (LOGOUT_FIELDS).
    logout: dict[str, Any] = field(default_factory=dict)
    # RFC 7591 §2 scope, as asked (None: not asked); the API scopes among it, which the client is
    # allowed (apis.py), all within PORCHLIGHT_REGISTRATION_API_SCOPES.
    scope: list[str] | None = None
    api_scopes: list[str] = field(default_factory=list)
    # OIDC Registration 1.0 §2: subject_type and, when given, sector_identifier_uri.
    subject: dict[str, str] = field(default_factory=lambda: {"subject_type": "public"})
    # OIDC Registration 1.0 §2, RFC 9101 §10.5: public keys, assertion and request object
    # settings, named as the model's fields (services.CLIENT_KEY_FIELDS).
    client_keys: dict[str, Any] = field(default_factory=dict)

    def as_response(self) -> dict[str, Any]:
        """Return the metadata the registration response echoes (RFC 7591 §3.2.1)."""
        return {
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "grant_types": self.grant_types,
            "response_types": self.response_types,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "application_type": self.application_type,
            **(
                {"userinfo_signed_response_alg": self.userinfo_signed_response_alg}
                if self.userinfo_signed_response_alg
                else {}
            ),
            **self.subject,
            **self.logout,
            **{
                name: value
                for name, value in self.client_keys.items()
                if name != "token_endpoint_auth_method"
            },
            # RFC 7591 §3.2.1: what was registered, so the scopes the client may ask for.
            **({"scope": " ".join(self.scope)} if self.scope is not None else {}),
        }


def _is_text(value: object) -> TypeGuard[str]:
    # JSON may carry NUL or lone surrogates (\ud800), which no database column can store.
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(data: dict[str, Any], name: str, default: str) -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not _is_text(value):
        raise RegistrationError("invalid_client_metadata", f"{name} must be a string.")
    return value


def _string_list(
    data: dict[str, Any], name: str, default: list[str], *, error: str = "invalid_client_metadata"
) -> list[str]:
    value = data.get(name, default)
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(_is_text(item) for item in value):
        raise RegistrationError(error, f"{name} must be an array of strings.")
    if len(value) > MAX_URIS:
        raise RegistrationError(error, f"{name} may hold at most {MAX_URIS} values.")
    return list(dict.fromkeys(value))


def metadata_parse(data: dict[str, Any]) -> Metadata:
    """Check a client metadata document against what Porchlight supports.

    Unknown metadata is ignored (RFC 7591 §2); known but unsupported values are refused with
    ``invalid_client_metadata`` or ``invalid_redirect_uri`` (RFC 7591 §3.2.2).
    """
    for name in REFUSED_METADATA:
        if data.get(name) is not None:
            raise RegistrationError("invalid_client_metadata", f"{name} is not supported.")

    grant_types = _string_list(data, "grant_types", [GrantType.AUTHORIZATION_CODE])
    # RFC 7591 §2: "implicit" names the front-channel response types, which Client.response_types
    # records; it is no grant the token endpoint serves.
    implicit = IMPLICIT in grant_types
    unsupported = [grant for grant in grant_types if grant not in (*GrantType.values, IMPLICIT)]
    if unsupported:
        raise RegistrationError(
            "invalid_client_metadata", f"Unsupported grant_types: {', '.join(unsupported)[:200]}."
        )
    if not set(grant_types) - {GrantType.REFRESH_TOKEN}:
        raise RegistrationError(
            "invalid_client_metadata", "grant_types needs authorization_code or client_credentials."
        )
    uses_code = GrantType.AUTHORIZATION_CODE in grant_types

    # OIDC Registration 1.0 §2: code (the default) and the implicit and hybrid types, each in
    # any word order; RFC 7591 §2.1: they must agree with grant_types, a type with "code" going
    # with authorization_code and one with "token" or "id_token" with implicit.
    response_types: list[str] = []
    for value in _string_list(data, "response_types", ["code"] if uses_code else []):
        normalized = response_type_normalized(value)
        if normalized is None:
            raise RegistrationError(
                "invalid_client_metadata",
                f"Unsupported response_types value: {value[:100]}."
                f" Supported: {', '.join(ResponseType.values)}.",
            )
        if normalized not in response_types:
            response_types.append(normalized)
    if uses_code != any(returns_code(value) for value in response_types):
        raise RegistrationError(
            "invalid_client_metadata", 'response_types with "code" go with the authorization_code grant.'
        )
    if implicit != any(front_channel(value) for value in response_types):
        raise RegistrationError(
            "invalid_client_metadata",
            'response_types with "id_token" or "token" go with the implicit grant, and it with them.',
        )

    # Each URI is judged by Client.clean() when the client is made (client_register).
    redirect_uris = _string_list(data, "redirect_uris", [], error="invalid_redirect_uri")
    post_logout_redirect_uris = _string_list(data, "post_logout_redirect_uris", [])

    auth_method = _string(data, "token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in AUTH_METHODS:
        raise RegistrationError(
            "invalid_client_metadata", f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}."
        )
    # OIDC Registration 1.0 §2: id_token_signed_response_alg defaults to RS256; it must be one
    # we can sign with now.
    algorithm = _string(data, "id_token_signed_response_alg", Algorithm.RS256)
    usable = keys.id_token_algorithms()
    if algorithm not in usable:
        raise RegistrationError(
            "invalid_client_metadata",
            f"id_token_signed_response_alg must be one of {', '.join(usable)}.",
        )
    # OIDC Registration 1.0 §2: absent, UserInfo is plain JSON; else one we can sign with now.
    userinfo_algorithm = _string(data, "userinfo_signed_response_alg", "")
    if userinfo_algorithm and userinfo_algorithm not in usable:
        raise RegistrationError(
            "invalid_client_metadata",
            f"userinfo_signed_response_alg must be one of {', '.join(usable)}.",
        )
    if Algorithm.HS256 in (algorithm, userinfo_algorithm) and auth_method == "none":
        # OIDC Core 1.0 §10.1: the HMAC key is the client secret, which a public client lacks.
        raise RegistrationError(
            "invalid_client_metadata", "HS256 signs with the client secret: a public client cannot use it."
        )

    application_type = _string(data, "application_type", "web")
    if application_type not in {"web", "native"}:
        raise RegistrationError("invalid_client_metadata", 'application_type must be "web" or "native".')
    if application_type == "web" and any(private_use_scheme(uri) for uri in redirect_uris):
        # OIDC Registration 1.0 §2: custom URI schemes are native clients' redirect URIs.
        raise RegistrationError(
            "invalid_redirect_uri",
            'A private-use scheme redirect URI (RFC 8252 §7.1) needs application_type "native".',
        )
    # OIDC Registration 1.0 §2; the sector identifier URI is fetched and judged by Client.clean().
    subject_type = _string(data, "subject_type", "public")
    if subject_type not in Client.SubjectType.values:
        raise RegistrationError("invalid_client_metadata", 'subject_type must be "public" or "pairwise".')
    subject = {"subject_type": subject_type}
    sector_identifier_uri = _string(data, "sector_identifier_uri", "").strip()
    if sector_identifier_uri:
        subject["sector_identifier_uri"] = sector_identifier_uri

    client_name = _string(data, "client_name", "").strip()
    if len(client_name) > MAX_NAME_LENGTH:
        raise RegistrationError("invalid_client_metadata", f"client_name is longer than {MAX_NAME_LENGTH}.")
    # Every client has a name people can tell apart on the consent page; RFC 7591 §2 lets the
    # server provision metadata the client left out, and the response echoes it.
    client_name = client_name or _unnamed(redirect_uris)

    scope, api_scopes = _scope_metadata(data)
    client_keys = _client_key_metadata(data, auth_method)
    return Metadata(
        client_name=client_name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        grant_types=grant_types,
        response_types=response_types,
        token_endpoint_auth_method=auth_method,
        id_token_signed_response_alg=algorithm,
        application_type=application_type,
        userinfo_signed_response_alg=userinfo_algorithm,
        logout=_logout_metadata(data),
        scope=scope,
        api_scopes=api_scopes,
        subject=subject,
        client_keys=client_keys,
    )


def _client_key_metadata(data: dict[str, Any], auth_method: str) -> dict[str, Any]:
    """Read jwks or jwks_uri, the assertion and request object algorithms, request_uris.

    The values themselves are judged by Client.clean() (OIDC Registration 1.0 §2: jwks and
    jwks_uri not both; public keys only; https URLs).
    """
    metadata: dict[str, Any] = {}
    if auth_method != "none":
        metadata["token_endpoint_auth_method"] = auth_method
    for name in ("jwks_uri", "token_endpoint_auth_signing_alg", "request_object_signing_alg"):
        value = _string(data, name, "")
        if value:
            metadata[name] = value
    if data.get("jwks") is not None:
        if not isinstance(data["jwks"], dict):
            raise RegistrationError("invalid_client_metadata", "jwks must be a JWK Set (a JSON object).")
        metadata["jwks"] = data["jwks"]
    if "jwks" in metadata and "jwks_uri" in metadata:
        raise RegistrationError("invalid_client_metadata", "jwks and jwks_uri must not both be given.")
    request_uris = _string_list(data, "request_uris", [])
    if request_uris:
        metadata["request_uris"] = request_uris
    required = data.get("require_signed_request_object")
    if required is not None:
        if not isinstance(required, bool):
            raise RegistrationError(
                "invalid_client_metadata", "require_signed_request_object must be a boolean."
            )
        metadata["require_signed_request_object"] = required
    return metadata


def _scope_metadata(data: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
    """Read ``scope`` (RFC 7591 §2): OpenID Connect's scopes, and API scopes the policy gives.

    An API scope outside PORCHLIGHT_REGISTRATION_API_SCOPES (or that no API defines), and
    ``groups`` (staff's choice, ``Client.release_groups``), are refused rather than left out, so
    the client learns at once what it cannot have.
    """
    value = data.get("scope")
    if value is None:
        return None, []
    if not _is_text(value):
        raise RegistrationError("invalid_client_metadata", "scope must be a string.")
    scopes = list(dict.fromkeys(value.split()))
    asked = api_scope_names(scopes)
    existing = set(ApiScope.objects.filter(name__in=asked).values_list("name", flat=True))
    policy = set(settings.PORCHLIGHT["REGISTRATION_API_SCOPES"])
    refused = [scope for scope in asked if scope not in existing or scope not in policy]
    if "groups" in scopes:
        refused.insert(0, "groups")
    if refused:
        raise RegistrationError(
            "invalid_client_metadata",
            f"A client that registers itself may not have these scopes: {' '.join(refused)[:300]}.",
        )
    return scopes, asked


def _logout_metadata(data: dict[str, Any]) -> dict[str, Any]:
    """Read the logout URIs and flags; the URIs are judged by Client.clean() like redirect URIs."""
    metadata: dict[str, Any] = {}
    for name in LOGOUT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        expected = bool if name.endswith("_required") else str
        if not isinstance(value, expected):
            raise RegistrationError("invalid_client_metadata", f"{name} must be a {expected.__name__}.")
        metadata[name] = value
    return metadata


def _unnamed(redirect_uris: list[str]) -> str:
    try:
        host = urlsplit(redirect_uris[0]).hostname if redirect_uris else None
    except ValueError:  # a URI Client.clean() will refuse anyway
        host = None
    suffix = secrets.token_hex(3)
    return f"Unnamed app at {host} ({suffix})" if host else f"Unnamed app ({suffix})"


# Client.clean() reports problems per field; RFC 7591 §3.2.2 has its own code for redirect URIs.
FIELD_ERRORS = {"redirect_uris": "invalid_redirect_uri"}


def client_grant_types(registered: list[str]) -> list[str]:
    """Return the grant types a client registered with ``registered`` is given.

    A client that signs people in at the authorization endpoint (any response type, "implicit"
    alone included) is an authorization_code client to Porchlight; its response types say which
    responses it may ask for.
    """
    if IMPLICIT not in registered:
        return registered
    granted = [grant for grant in registered if grant != IMPLICIT]
    return granted if GrantType.AUTHORIZATION_CODE in granted else [GrantType.AUTHORIZATION_CODE, *granted]


def registration_error(exc: ValidationError) -> RegistrationError:
    """Return ``Client.clean()``'s verdict as an RFC 7591 §3.2.2 error (RFC 7592 §2.2 uses the same)."""
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"client": exc.messages}
    error = next((code for field, code in FIELD_ERRORS.items() if field in fields), "invalid_client_metadata")
    described = [f"{field}: {message}" for field, messages in fields.items() for message in messages]
    return RegistrationError(error, "; ".join(described)[:500])


def kept_metadata(metadata: Metadata) -> dict[str, Any]:
    """Return the registered metadata no ``Client`` column holds, kept for RFC 7592 §3 reads."""
    kept: dict[str, Any] = {
        "application_type": metadata.application_type,
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
    }
    if metadata.scope is not None:
        kept["scope"] = metadata.scope
    return kept


@dataclass(frozen=True)
class Registered:
    """A client just registered: its secret (None for a public client) and its registration
    access token (RFC 7592 §3), both in cleartext for the one response that shows them."""

    client: Client
    secret: str | None
    access_token: str


@transaction.atomic
def client_register(*, metadata: Metadata, token: RegistrationToken | None) -> Registered:
    """Create a dynamically registered client, spending one use of ``token``.

    Such clients always see the consent page, which says staff have not reviewed them, and never
    may introspect (they are not first-party). Their names may repeat among themselves, never pass
    for a staff app's (``Client._clean_name``). Each gets a registration access token to read,
    change and delete its registration with (RFC 7592, client_configuration.py).
    Raises ``RegistrationError("invalid_token", ...)`` if the token was used up meanwhile.
    """
    if token is not None:
        token = RegistrationToken.objects.select_for_update().get(pk=token.pk)
        if not token.is_usable():
            raise RegistrationError("invalid_token", "The initial access token is expired or used up.")
        token.uses += 1
        token.save(update_fields=["uses"])
    try:
        client, secret = client_create(
            name=metadata.client_name,
            redirect_uris=metadata.redirect_uris,
            post_logout_redirect_uris=metadata.post_logout_redirect_uris,
            public=metadata.token_endpoint_auth_method == "none",
            grant_types=client_grant_types(metadata.grant_types),
            response_types=metadata.response_types,
            skip_consent=False,
            algorithm=metadata.id_token_signed_response_alg,
            userinfo_algorithm=metadata.userinfo_signed_response_alg,
            logout=metadata.logout,
            subject=metadata.subject,
            client_keys={
                **metadata.client_keys,
                "request_uris": " ".join(metadata.client_keys.get("request_uris", [])),
            },
            registration_source=Client.RegistrationSource.DCR,
        )
        client.allowed_scopes.add(*ApiScope.objects.filter(name__in=metadata.api_scopes))
    except ValidationError as exc:
        raise registration_error(exc) from exc
    access_token = secrets.token_urlsafe(32)
    ClientRegistration.objects.create(
        client=client,
        access_token_hash=token_checksum(access_token),
        access_token_issued=timezone.now(),
        metadata=kept_metadata(metadata),
    )
    audit_record(
        action=Action.CLIENT_REGISTER,
        target=client,
        actor_label=f"registration token {token.label}" if token else "open registration",
        detail={
            "client_name": client.name,
            "grant_types": client.grant_types,
            "allowed_scopes": sorted(metadata.api_scopes),
        },
    )
    return Registered(client=client, secret=secret, access_token=access_token)
