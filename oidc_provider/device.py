"""The device authorization grant (RFC 8628): device and user codes, approval, and polling.

How it fits DOT and oauthlib. oauthlib 4.0.1 implements the grant at the token endpoint
(``DeviceCodeGrant``, already routed by the server DOT builds): client authentication, the
grant-type check, the RFC 8628 §3.5 error for each status and the token response. It leaves one
hook to the server, ``validate_device_code``, which DOT 3.4.1 does not implement (a 500), and
DOT's own device views and token branch store codes in clear, look them up without the client,
never say ``slow_down`` and never issue an ID token. So Porchlight plugs into oauthlib's grant
rather than reimplementing it: the validator's ``validate_device_code`` asks
``device_code_redeem`` here, which locks the row and either reports the status or redeems the
code exactly once; tokens are then minted by the same validator methods as for the code flow
(JWT access tokens, the refresh-token rules, an ID token when ``openid`` was granted). DOT's
device views are not used: the device authorization endpoint and the verification pages are
Porchlight's (``views/device.py``), and they call the services below.

Rows store the SHA-256 of the device code (never the code) and the user code normalised: upper
case, no dash.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from accounts.authentication import AuthContext
from accounts.models import User
from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum

from .consent import consent_grant
from .logout import session_client_record
from .models import Client, DeviceGrant

# RFC 8628 §6.1: base-20 consonants, no vowels (no words), no digits or look-alikes to confuse.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
# 20^8 ≈ 2^34.5 codes; with throttled entry and a short lifetime that is enough (RFC 8628 §5.1).
USER_CODE_LENGTH = 8
# Typed input longer than this is not a code (spaces and dashes included).
USER_CODE_MAX_INPUT = 32
# RFC 8628 §3.5: a slow_down answer adds 5 seconds to the interval, for this and later polls.
SLOW_DOWN_STEP = 5

# The statuses oauthlib's grant maps to RFC 8628 §3.5 answers; None means invalid_grant. (The
# oauthlib stubs, typeshed's 4.0.0, do not declare these 4.0.1 constants yet.)
AUTHORIZED: str = DeviceCodeGrant.DEVICE_CODE_AUTHORIZED  # type: ignore[attr-defined]
PENDING: str = DeviceCodeGrant.DEVICE_CODE_PENDING  # type: ignore[attr-defined]
SLOW_DOWN: str = DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN  # type: ignore[attr-defined]
EXPIRED: str = DeviceCodeGrant.DEVICE_CODE_EXPIRED  # type: ignore[attr-defined]
DENIED: str = DeviceCodeGrant.DEVICE_CODE_DENIED  # type: ignore[attr-defined]


def user_code_generate() -> str:
    """Return a new random user code, normalised (``WDJBMJHT``)."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def user_code_normalise(value: str) -> str:
    """Return typed input as a stored user code: case, dashes and spaces do not matter."""
    return "".join(value.split()).replace("-", "").upper()


def user_code_display(code: str) -> str:
    """Return a normalised user code in groups of four, as people read it (``WDJB-MJHT``)."""
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class DeviceAuthorization:
    """A new device authorization: the row, and the codes only the device is told (RFC 8628 §3.2)."""

    grant: DeviceGrant
    device_code: str
    user_code: str

    @property
    def expires_in(self) -> int:
        return round((self.grant.expires - self.grant.created).total_seconds())


@transaction.atomic
def device_authorization_create(*, client: Client, scopes: list[str]) -> DeviceAuthorization:
    """Start a device authorization for ``client`` and return its codes (shown once, stored hashed)."""
    now = timezone.now()
    lifetime = settings.PORCHLIGHT["DEVICE_CODE_LIFETIME"]
    # A user code must name one live grant; with 2^34 codes a clash is rare, so just draw again.
    user_code = user_code_generate()
    while DeviceGrant.objects.filter(user_code=user_code, expires__gt=now).exists():
        user_code = user_code_generate()
    device_code = secrets.token_urlsafe(32)
    grant = DeviceGrant.objects.create(
        client_id=client.client_id,
        device_code=token_checksum(device_code),
        user_code=user_code,
        scope=" ".join(scopes),
        interval=settings.PORCHLIGHT["DEVICE_POLL_INTERVAL"],
        created=now,
        expires=now + timedelta(seconds=lifetime),
    )
    return DeviceAuthorization(grant=grant, device_code=device_code, user_code=user_code_display(user_code))


def device_grant_for_user_code(*, user_code: str) -> tuple[DeviceGrant, Client] | None:
    """Return the live, unanswered grant a person's typed ``user_code`` names, with its client."""
    code = user_code_normalise(user_code[:USER_CODE_MAX_INPUT])
    if len(code) != USER_CODE_LENGTH or not set(code) <= set(USER_CODE_ALPHABET):
        return None
    grant = DeviceGrant.objects.filter(
        user_code=code,
        status=DeviceGrant.AUTHORIZATION_PENDING,
        expires__gt=timezone.now(),
        redeemed_at__isnull=True,
    ).first()
    return _with_client(grant)


def device_grant_pending(*, pk: int) -> tuple[DeviceGrant, Client] | None:
    """Return the grant ``pk`` and its client while it still awaits the user's answer."""
    grant = DeviceGrant.objects.filter(
        pk=pk, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    ).first()
    return _with_client(grant)


def _with_client(grant: DeviceGrant | None) -> tuple[DeviceGrant, Client] | None:
    if grant is None:
        return None
    client = Client.objects.filter(client_id=grant.client_id).first()
    return (grant, client) if client is not None else None


@transaction.atomic
def device_grant_approve(*, grant: DeviceGrant, client: Client, user: User, context: AuthContext) -> bool:
    """Record that ``user`` allowed the device, with how they signed in; False if it is too late."""
    # Only a pending, live grant can be answered, once: the conditional UPDATE decides between
    # two answers racing (another tab, a second click).
    answered = DeviceGrant.objects.filter(
        pk=grant.pk, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    ).update(
        status=DeviceGrant.AUTHORIZED,
        user=user,
        # The approving sign-in's context goes into the tokens (auth_time, amr, acr, sid).
        auth_time=datetime.fromtimestamp(context.auth_time, tz=UTC),
        amr=list(context.amr),
        acr=context.acr,
        session_id=context.session_id,
    )
    if not answered:
        return False
    # The device's app is told when the approving sign-in session ends (Back-Channel Logout 1.0).
    session_client_record(sid=context.session_id, client=client)
    scopes = grant.scope.split()
    # The device then appears under Connected apps, where the user can revoke it.
    consent_grant(user=user, client=client, scopes=scopes)
    audit_record(action=Action.DEVICE_APPROVE, target=client, actor=user, detail={"scopes": scopes})
    return True


@transaction.atomic
def device_grant_deny(*, grant: DeviceGrant, client: Client, user: User) -> bool:
    """Record that ``user`` refused the device; False if it was already answered or expired."""
    answered = DeviceGrant.objects.filter(
        pk=grant.pk, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    ).update(status=DeviceGrant.DENIED, user=user)
    if answered:
        audit_record(action=Action.DEVICE_DENY, target=client, actor=user)
    return bool(answered)


@dataclass(frozen=True)
class DevicePoll:
    """What a poll of the token endpoint found: an RFC 8628 §3.5 status, and the grant once redeemed."""

    status: str | None
    grant: DeviceGrant | None = None


@transaction.atomic
def device_code_redeem(*, client: Client, device_code: str) -> DevicePoll:
    """Answer one poll by ``client`` for ``device_code``; redeem the code if the user allowed it.

    Call inside the token request's transaction: the row stays locked until the tokens are
    saved, so of any number of concurrent polls after approval exactly one redeems the code
    and the others find it redeemed (invalid_grant).
    """
    now = timezone.now()
    grant = (
        DeviceGrant.objects.select_for_update(of=("self",))
        .select_related("user")
        # The code must have been issued to the client polling with it (RFC 8628 §3.4).
        .filter(device_code=token_checksum(device_code), client_id=client.client_id)
        .first()
    )
    if grant is None or grant.redeemed_at is not None:
        return DevicePoll(None)
    if grant.expires <= now:
        return DevicePoll(EXPIRED)
    # An approval by an account deactivated since then is void (accounts/lifecycle/services.py).
    if grant.status == DeviceGrant.DENIED or (grant.user is not None and not grant.user.is_active):
        return DevicePoll(DENIED)
    if grant.status == DeviceGrant.AUTHORIZED and grant.user is not None:
        grant.redeemed_at = grant.polled_at = now
        grant.save(update_fields=["redeemed_at", "polled_at"])
        return DevicePoll(AUTHORIZED, grant)
    # RFC 8628 §3.5: a client that polls before its interval has passed is told to slow down,
    # and its interval grows by 5 seconds for this and every later poll.
    too_fast = grant.polled_at is not None and now - grant.polled_at < timedelta(seconds=grant.interval)
    grant.polled_at = now
    if too_fast:
        grant.interval += SLOW_DOWN_STEP
    grant.save(update_fields=["polled_at", "interval"])
    return DevicePoll(SLOW_DOWN if too_fast else PENDING)


def device_grants_expired() -> QuerySet[DeviceGrant]:
    """Return the device grants that expired at least one code lifetime ago (housekeeping prunes them).

    An expired grant is kept that long so a late poll is still answered expired_token rather
    than invalid_grant (RFC 8628 §3.5).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.PORCHLIGHT["DEVICE_CODE_LIFETIME"])
    return DeviceGrant.objects.filter(expires__lt=cutoff)
