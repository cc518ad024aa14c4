"""Managing a dynamic registration: the client configuration endpoint (RFC 7592).

A client that registered itself (RFC 7591) gets a registration access token and the address of
its registration (``registration_client_uri``, RFC 7592 §3). With the token it reads its
registration (§2.1), replaces its metadata (§2.2: the same checks as registration,
``registration.metadata_parse``, and the token is rotated) or deletes itself (§2.3: every token
it holds goes with it). Only the token's SHA-256 is stored. The client secret is never shown
again: it is stored hashed, so RFC 7592 §3's optional ``client_secret`` cannot be returned.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum

from .models import Algorithm, ApiScope, Client, ClientRegistration, GrantType, ResponseType
from .registration import (
    IMPLICIT,
    Metadata,
    RegistrationError,
    client_grant_types,
    kept_metadata,
    metadata_parse,
    registration_error,
)
from .response_types import front_channel
from .services import (
    CLIENT_KEY_FIELDS,
    LOGOUT_FIELDS,
    client_change_record,
    client_delete,
    response_types_listed,
)

# The methods by which a client sends its secret itself.
SECRET_METHODS = (Client.AuthMethod.CLIENT_SECRET_BASIC, Client.AuthMethod.CLIENT_SECRET_POST)
# Named in audit records of what a client did to its own registration.
ACTOR_LABEL = "registration access token"


def registration_client_uri(client: Client) -> str:
    """Return where ``client`` manages its registration (RFC 7592 §3 registration_client_uri)."""
    issuer: str = oauth2_settings.OIDC_ISS_ENDPOINT
    return issuer + reverse("oidc_provider:client-configuration", args=[client.client_id])


def registration_find(*, client_id: str, value: str) -> ClientRegistration | None:
    """Return the registration of ``client_id`` if ``value`` is its live registration access token."""
    if not value:
        return None
    return (
        ClientRegistration.objects.select_related("client")
        .filter(access_token_hash=token_checksum(value), client__client_id=client_id)
        .first()
    )


def _access_token_issue(registration: ClientRegistration) -> str:
    value = secrets.token_urlsafe(32)
    registration.access_token_hash = token_checksum(value)
    registration.access_token_issued = timezone.now()
    return value


def registered_metadata(registration: ClientRegistration) -> Metadata:
    """Return the client's metadata as it stands now, in the shape registration returned it."""
    client = registration.client
    kept = registration.metadata
    grant_types = list(client.grant_types or [])
    subject = {"subject_type": client.subject_type}
    if client.sector_identifier_uri:
        subject["sector_identifier_uri"] = client.sector_identifier_uri
    logout: dict[str, Any] = {}
    for prefix in ("backchannel", "frontchannel"):
        uri = getattr(client, f"{prefix}_logout_uri")
        if uri:
            logout[f"{prefix}_logout_uri"] = uri
            logout[f"{prefix}_logout_session_required"] = getattr(client, f"{prefix}_logout_session_required")
    public = client.client_type == Client.CLIENT_PUBLIC
    response_types = list(client.response_types or [])
    if any(front_channel(value) for value in response_types):
        # RFC 7591 §2: registered as the "implicit" grant (registration.client_grant_types).
        grant_types.append(IMPLICIT)
    client_keys = {
        name: getattr(client, name)
        for name in CLIENT_KEY_FIELDS
        if name != "token_endpoint_auth_method" and getattr(client, name)
    }
    if "request_uris" in client_keys:
        client_keys["request_uris"] = client.request_uris.split()
    return Metadata(
        client_name=client.name,
        redirect_uris=client.redirect_uris.split(),
        post_logout_redirect_uris=client.post_logout_redirect_uris.split(),
        grant_types=grant_types,
        response_types=response_types if GrantType.AUTHORIZATION_CODE in grant_types else [],
        token_endpoint_auth_method=kept.get(
            "token_endpoint_auth_method", "none" if public else "client_secret_basic"
        ),
        id_token_signed_response_alg=client.algorithm,
        application_type=kept.get("application_type", "web"),
        userinfo_signed_response_alg=client.userinfo_signed_response_alg,
        logout=logout,
        scope=kept.get("scope"),
        subject=subject,
        client_keys=client_keys,
    )


def registration_response(
    registration: ClientRegistration, *, secret: str | None = None, access_token: str | None = None
) -> dict[str, Any]:
    """Return the client information response (RFC 7591 §3.2.1, RFC 7592 §3).

    The secret and the registration access token appear only when just issued (``secret``,
    ``access_token``): only their hashes are stored.
    """
    client = registration.client
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created.timestamp()),
        **registered_metadata(registration).as_response(),
        "registration_client_uri": registration_client_uri(client),
    }
    if access_token is not None:
        body["registration_access_token"] = access_token
    if secret is not None:
        # RFC 7591 §3.2.1: 0 means the secret does not expire.
        body.update(client_secret=secret, client_secret_expires_at=0)
    return body


# RFC 7592 §2.2: fields of the client information response (§3) an update request must not include.
SERVER_FIELDS = (
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
)


@dataclass(frozen=True)
class Updated:
    registration: ClientRegistration
    access_token: str


@transaction.atomic
def registration_update(*, registration: ClientRegistration, data: dict[str, Any]) -> Updated:
    """Replace the client's metadata with ``data`` (RFC 7592 §2.2) and rotate its access token.

    ``registration`` is as found by the token the request presented (``registration_find``).
    Metadata left out takes its default, as at registration. Raises ``RegistrationError``.
    """
    # The token is checked again under the row lock: of updates sent at once with one token, the
    # first rotates it and the others find it spent (RFC 7592 §2.2: the old token is no longer valid).
    locked = (
        ClientRegistration.objects.select_for_update()
        .select_related("client")
        .filter(pk=registration.pk, access_token_hash=registration.access_token_hash)
        .first()
    )
    if locked is None:
        raise RegistrationError("invalid_token", "A valid registration access token is required.")
    registration = locked
    client = registration.client
    sent = [name for name in SERVER_FIELDS if name in data]
    if sent:
        # RFC 7592 §2.2: the request must not include what the server issues; it is refused, not
        # silently dropped, so a client that sends them learns its request is malformed.
        raise RegistrationError(
            "invalid_client_metadata", f"Leave out {', '.join(sent)}: the server issues them."
        )
    if data.get("client_id") != client.client_id:
        raise RegistrationError("invalid_client_metadata", "client_id must be this client's identifier.")
    sent_secret = data.get("client_secret")
    if sent_secret is not None and not (
        isinstance(sent_secret, str)
        and client.client_secret
        and check_password(sent_secret, client.client_secret)
    ):
        # RFC 7592 §2.2: a client secret in the request must be the current one; never a new one.
        raise RegistrationError("invalid_client_metadata", "client_secret is not this client's secret.")
    metadata = metadata_parse(data)
    public = metadata.token_endpoint_auth_method == "none"
    if public != (client.client_type == Client.CLIENT_PUBLIC):
        raise RegistrationError(
            "invalid_client_metadata",
            "token_endpoint_auth_method cannot change between none and a client secret; register anew.",
        )
    if metadata.token_endpoint_auth_method in SECRET_METHODS and not client.client_secret:
        # A private_key_jwt client was given no secret (services.client_create).
        raise RegistrationError(
            "invalid_client_metadata", "This client has no client secret to authenticate with; register anew."
        )
    needs_secret = metadata.token_endpoint_auth_method == Client.AuthMethod.CLIENT_SECRET_JWT or (
        Algorithm.HS256 in (metadata.id_token_signed_response_alg, metadata.userinfo_signed_response_alg)
    )
    if needs_secret and not client.client_secret_encrypted:
        # OIDC Core 1.0 §10.1: the HMAC key is the secret, of which only a hash is kept.
        raise RegistrationError(
            "invalid_client_metadata",
            "HS256 signs with the client secret, which is stored hashed: register anew to use it.",
        )
    before = {field: getattr(client, field) for field in _FIELDS}
    client.name = metadata.client_name
    client.redirect_uris = " ".join(metadata.redirect_uris)
    client.post_logout_redirect_uris = " ".join(metadata.post_logout_redirect_uris)
    client.grant_types = client_grant_types(list(dict.fromkeys(metadata.grant_types)))
    client.response_types = response_types_listed(metadata.response_types or [ResponseType.CODE])
    for name in CLIENT_KEY_FIELDS:
        # As services.client_create sets them; what is left out takes the field's default.
        if name not in metadata.client_keys:
            setattr(client, name, _field_default(name))
        elif name == "request_uris":
            client.request_uris = " ".join(metadata.client_keys[name])
        else:
            setattr(client, name, metadata.client_keys[name])
    client.algorithm = metadata.id_token_signed_response_alg
    client.userinfo_signed_response_alg = metadata.userinfo_signed_response_alg
    for name in LOGOUT_FIELDS:
        setattr(client, name, metadata.logout.get(name, False if name.endswith("_required") else ""))
    client.subject_type = metadata.subject["subject_type"]
    client.sector_identifier_uri = metadata.subject.get("sector_identifier_uri", "")
    try:
        client.full_clean()
    except ValidationError as exc:
        raise registration_error(exc) from exc
    client.save()
    scopes_before = set(client.allowed_scopes.values_list("name", flat=True))
    client.allowed_scopes.set(ApiScope.objects.filter(name__in=metadata.api_scopes))
    changed = [field for field in _FIELDS if getattr(client, field) != before[field]]
    if scopes_before != set(metadata.api_scopes):
        changed.append("allowed_scopes")
    registration.metadata = kept_metadata(metadata)
    access_token = _access_token_issue(registration)
    registration.save()
    client_change_record(client=client, changed=changed, actor_label=ACTOR_LABEL)
    return Updated(registration=registration, access_token=access_token)


_FIELDS = (
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    *CLIENT_KEY_FIELDS,
    "algorithm",
    "userinfo_signed_response_alg",
    *LOGOUT_FIELDS,
    "subject_type",
    "sector_identifier_uri",
)


def _field_default(name: str) -> Any:
    field = Client._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_default()


def registration_delete(*, registration: ClientRegistration) -> None:
    """Delete the client (RFC 7592 §2.3) with every token, code and consent it holds."""
    client_delete(client=registration.client, actor_label=ACTOR_LABEL)


@transaction.atomic
def registration_access_tokens_revoke(
    *, clients: QuerySet[Client], actor: User | AnonymousUser | None = None
) -> int:
    """Revoke the registration access tokens of ``clients``; return how many were live."""
    live = ClientRegistration.objects.filter(client__in=clients, access_token_hash__isnull=False)
    revoked = list(live.select_related("client"))
    for registration in revoked:
        registration.access_token_hash = None
        registration.save(update_fields=["access_token_hash"])
        audit_record(
            action=Action.CLIENT_REGISTRATION_ACCESS_TOKEN_REVOKE,
            target=registration.client,
            actor=actor,
            detail={"name": registration.client.name},
        )
    return len(revoked)
