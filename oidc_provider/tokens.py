"""What a stored token says about itself (RFC 7662 §2.2), and revoking a user's tokens."""

import enum
import math
import uuid
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeAlias

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import revoke_access_token
from oauth2_provider.settings import oauth2_settings

from accounts.models import LoginSession, User
from accounts.sessions import login_session_active
from ground.checksums import token_checksum
from ground.prepared_queries import PreparedLookup

from .claims import SELDOM_CLAIM_FIELDS
from .models import AccessToken, Client, Consent, DeviceGrant, Grant, IDToken, RefreshToken
from .subjects import subject_for

_ACCESS_TOKEN_BY_CHECKSUM = PreparedLookup(
    AccessToken,
    lambda checksum: AccessToken.objects.select_related("user", "application").filter(
        token_checksum=checksum
    ),
)

# What UserInfo reads of a token, its user and its client, and nothing else: one indexed SELECT of
# 37 columns instead of 96 (docs/performance.md). A column left out would still be read when
# used, with a query of its own, which tests/oidc_provider/test_query_counts.py would count.
PRESENTED_TOKEN_FIELDS = ("expires", "scope", "resource", "claims")
PRESENTED_CLIENT_FIELDS = (
    "client_id",
    "client_type",
    "allowed_origins",
    "redirect_uris",
    "subject_type",
    "sector_identifier_uri",
    "rate_limit",
    "userinfo_signed_response_alg",
    "client_secret_encrypted",
)
# Every column of the user but the password, the account's bookkeeping, and the fields of the
# address and phone claims, which few tokens' scopes release (claims.SELDOM_CLAIM_FIELDS reads
# them in one query of their own when asked): the claims (claims.py) read the profile, sub its
# subject.
PRESENTED_USER_EXCLUDED = {
    "password",
    "last_login",
    "is_superuser",
    "is_staff",
    "date_joined",
    "deletion_requested",
    "erase_after",
    "erased",
    *(field for fields in SELDOM_CLAIM_FIELDS.values() for field in fields),
}


def _presented_only() -> list[str]:
    user_fields = [
        field.attname
        for field in User._meta.concrete_fields
        if field.attname not in PRESENTED_USER_EXCLUDED and not field.primary_key
    ]
    return [
        *PRESENTED_TOKEN_FIELDS,
        *(f"application__{name}" for name in PRESENTED_CLIENT_FIELDS),
        *(f"user__{name}" for name in user_fields),
    ]


PRESENTED_ACCESS_TOKEN = PreparedLookup(
    AccessToken,
    lambda checksum: (
        AccessToken.objects.select_related("user", "application")
        .only(*_presented_only())
        .filter(token_checksum=checksum)
    ),
)


# What introspection reads (access_token_claims, token_usable, the caller's right to see it): 19
# columns instead of UserInfo's 50, which carry the user's claims.
INTROSPECTED_TOKEN_FIELDS = ("expires", "scope", "resource", "created", "auth_time", "acr", "act")
# sub: subject_for reads the client's subject type and sector, and the user's subject.
INTROSPECTED_CLIENT_FIELDS = ("client_id", "redirect_uris", "subject_type", "sector_identifier_uri")
INTROSPECTED_USER_FIELDS = ("username", "is_active", "subject")

INTROSPECTED_ACCESS_TOKEN = PreparedLookup(
    AccessToken,
    lambda checksum: (
        AccessToken.objects.select_related("user", "application")
        .only(
            *INTROSPECTED_TOKEN_FIELDS,
            *(f"application__{name}" for name in INTROSPECTED_CLIENT_FIELDS),
            *(f"user__{name}" for name in INTROSPECTED_USER_FIELDS),
        )
        .filter(token_checksum=checksum)
    ),
)


def _subject(token: AccessToken | RefreshToken, client: Client) -> str:
    # RFC 9068 §2.2: with no end user (client_credentials) the subject is the client.
    return subject_for(token.user, client) if token.user is not None else client.client_id


def token_usable(token: AccessToken | RefreshToken | Grant) -> bool:
    """Return whether the account behind ``token`` (or code) still lets anyone use it.

    A deactivated account's tokens and codes are dead. Deactivation revokes them, but a request
    that raced it may still hold one; UserInfo, introspection and the token endpoint ask this
    before they honour any. A client_credentials token has no account.
    """
    return token.user is None or token.user.is_active


def access_token_find(*, value: str) -> AccessToken | None:
    """Return the stored access token ``value``, with its user and client, in one indexed SELECT."""
    # Stored by checksum only (RFC 9700 §4.14 storage; DOT's token_checksum, unique and indexed).
    return _ACCESS_TOKEN_BY_CHECKSUM.first(token_checksum(value))


def access_token_presented(*, value: str) -> AccessToken | None:
    """Return the stored access token ``value`` with what UserInfo and introspection read of it.

    One indexed SELECT (by checksum) of the token's, its user's and its client's columns they use.
    """
    return PRESENTED_ACCESS_TOKEN.first(token_checksum(value))


def access_token_introspected(*, value: str) -> AccessToken | None:
    """Return the stored access token ``value`` with what introspection reads of it.

    One indexed SELECT (by checksum) of the token's, its user's and its client's columns that
    ``access_token_claims`` and ``token_usable`` use.
    """
    return INTROSPECTED_ACCESS_TOKEN.first(token_checksum(value))


def access_token_claims(token: AccessToken) -> dict[str, Any]:
    """Return the introspection response for a valid access token."""
    # DOT's column allows a token without a client; Porchlight issues none.
    client = token.application
    assert client is not None
    data = {
        "active": True,
        "token_type": "Bearer",
        "scope": token.scope,
        "client_id": client.client_id,
        "sub": _subject(token, client),
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": token.resource or [client.client_id],
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
    }
    if token.user is not None:
        data["username"] = token.user.get_username()
    if token.auth_time:
        data["auth_time"] = int(token.auth_time.timestamp())
    if token.acr:
        data["acr"] = token.acr
    if token.act:
        # RFC 8693 §4.1: an exchanged token's actor, as its JWT carries it.
        data["act"] = token.act
    return data


def refresh_token_expires(token: RefreshToken) -> datetime | None:
    """Return when an unused refresh token dies: its access token's expiry plus the idle lifetime."""
    if token.access_token is None:
        return None
    return token.access_token.expires + timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)


class _Session(enum.Enum):
    LOOK_UP = enum.auto()


# Passed as ``session`` when the caller has not looked the token's sign-in session up yet.
LOOK_UP: Final = _Session.LOOK_UP
# The live sign-in session of a session-bound token (None: it has ended), or LOOK_UP.
SessionOrLookUp: TypeAlias = LoginSession | None | Literal[_Session.LOOK_UP]


def refresh_token_deadline(token: RefreshToken, *, session: SessionOrLookUp = LOOK_UP) -> datetime | None:
    """Return when ``token`` dies if not used before, or None when it is dead already.

    Every refresh token dies after the idle lifetime. A session-bound one also dies with its
    sign-in session (OIDC Core 1.0 §11: without offline_access a refresh token must not outlive
    the user's session); an offline one dies at the offline maximum after the sign-in. A caller
    that already holds the live session of ``token.session_id`` (or None) passes it as ``session``.
    """
    deadline = refresh_token_expires(token)
    if token.revoked is not None or deadline is None:
        return None
    if token.offline:
        maximum = settings.PORCHLIGHT["OFFLINE_TOKEN_MAX_LIFETIME"]
        if maximum and token.auth_time:
            deadline = min(deadline, token.auth_time + timedelta(seconds=maximum))
    else:
        if session is LOOK_UP:
            session = login_session_active(token.session_id)
        if session is None:
            return None
        deadline = min(deadline, session.expires)
    return deadline if deadline > timezone.now() else None


def refresh_token_alive(token: RefreshToken, *, session: SessionOrLookUp = LOOK_UP) -> bool:
    """Return whether ``token`` may still be used."""
    return refresh_token_deadline(token, session=session) is not None


def refresh_token_remaining(token: RefreshToken, *, session: SessionOrLookUp = LOOK_UP) -> int:
    """Return the seconds ``token`` has left if not used (``refresh_expires_in``)."""
    deadline = refresh_token_deadline(token, session=session)
    return max(0, math.floor((deadline - timezone.now()).total_seconds())) if deadline else 0


def refresh_token_claims(token: RefreshToken) -> dict[str, Any] | None:
    """Return the introspection response for a live refresh token, or None if it is dead."""
    expires = refresh_token_deadline(token)
    # A token without its access token has no deadline: refresh_token_expires.
    access_token = token.access_token
    if expires is None or access_token is None:
        return None
    return {
        "active": True,
        "token_type": "refresh_token",
        "scope": access_token.scope,
        "client_id": token.application.client_id,
        "sub": _subject(token, token.application),
        "username": token.user.get_username(),
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "exp": int(expires.timestamp()),
        "iat": int(token.created.timestamp()),
    }


def client_tokens_find(*, value: str, client: Client) -> list[AccessToken | RefreshToken]:
    """Return the stored access and refresh tokens ``client`` holds with the value ``value``."""
    checksum = token_checksum(value)
    return [
        *AccessToken.objects.filter(token_checksum=checksum, application=client).select_related("user"),
        *RefreshToken.objects.filter(
            token_checksum=checksum, application=client, revoked__isnull=True
        ).select_related("user"),
    ]


@transaction.atomic
def user_tokens_revoke(*, user: User, client: Client | None = None) -> int:
    """Revoke every token ``client`` (None: any client) holds for ``user``; return how many."""
    refresh_tokens = RefreshToken.objects.filter(user=user, revoked__isnull=True)
    access_tokens = AccessToken.objects.filter(user=user)
    if client is not None:
        refresh_tokens, access_tokens = (
            refresh_tokens.filter(application=client),
            access_tokens.filter(application=client),
        )
    count = 0
    for refresh in refresh_tokens:
        refresh.revoke()
        count += 1
    for access in access_tokens:
        revoke_access_token(access)
        count += 1
    return count


@transaction.atomic
def user_grants_void(*, user: User) -> int:
    """Make ``user``'s unredeemed authorization codes and approved device codes worthless; return how many."""
    codes = Grant.objects.filter(user=user, used_at__isnull=True).delete()[0]
    # RFC 8628 §3.5: the polling device is told access_denied.
    devices = DeviceGrant.objects.filter(
        user=user, status=DeviceGrant.AUTHORIZED, redeemed_at__isnull=True
    ).update(status=DeviceGrant.DENIED)
    return codes + devices


@transaction.atomic
def user_protocol_data_delete(*, user: User) -> None:
    """Delete every token, code, device grant and consent of ``user`` (the account's erasure)."""
    # Refresh tokens first: they point at the access tokens, which point at the ID tokens.
    RefreshToken.objects.filter(user=user).delete()
    AccessToken.objects.filter(user=user).delete()
    IDToken.objects.filter(user=user).delete()
    Grant.objects.filter(user=user).delete()
    DeviceGrant.objects.filter(user=user).delete()
    Consent.objects.filter(user=user).delete()


@transaction.atomic
def family_revoke(family: uuid.UUID) -> None:
    """Revoke every token issued from one code and its refreshes (RFC 9700 §4.14.2, §4.2.4)."""
    RefreshToken.revoke_family(family)
    AccessToken.objects.filter(token_family=family).delete()


@transaction.atomic
def session_tokens_revoke(*, sid: str) -> int:
    """Revoke the session-bound tokens issued in the sign-in session ``sid``; return how many families.

    Offline tokens (and access tokens minted from them) outlive the session (OIDC Core 1.0 §11).
    """
    families = set(
        RefreshToken.objects.filter(session_id=sid, offline=False, revoked__isnull=True).values_list(
            "token_family", flat=True
        )
    )
    for family in families - {None}:
        RefreshToken.revoke_family(family)
    offline_families = RefreshToken.objects.filter(session_id=sid, offline=True).values("token_family")
    AccessToken.objects.filter(session_id=sid).exclude(token_family__in=offline_families).delete()
    return len(families)


@transaction.atomic
def offline_tokens_revoke(*, user: User) -> int:
    """Revoke the user's offline refresh tokens and their access tokens (a password change)."""
    families = set(
        RefreshToken.objects.filter(user=user, offline=True, revoked__isnull=True).values_list(
            "token_family", flat=True
        )
    )
    for family in families:
        if family is not None:
            family_revoke(family)
    return len(families)
