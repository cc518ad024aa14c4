"""Refresh token rotation: one refresh token, at most one successor, ever (RFC 9700 §4.14.2).

The token endpoint runs each request in one transaction (views/token.py). ``refresh_token_lock``
locks the presented token's row first and decides only after the lock, so of concurrent
requests with one token the first rotates it and the others see it already rotated:

- within ``PORCHLIGHT_REFRESH_REUSE_GRACE`` seconds of the rotation, and while the successor is
  alive, they get the same successor back (a retried request or a second tab is no attack);
- later, or once the successor is gone, the reuse revokes the whole family.

The response that carried the successor is kept, encrypted with the key-encryption key, on the
rotated token for that purpose.
"""

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.encryption import UndecryptableError, decrypt, encrypt
from accounts.models import LoginSession
from accounts.sessions import login_session_active
from ground.checksums import token_checksum
from ground.prepared_queries import PreparedLookup

from .models import AccessToken, Client, RefreshToken
from .tokens import family_revoke, refresh_token_alive


@dataclass(frozen=True)
class RefreshDecision:
    # The live token to rotate, or None.
    token: RefreshToken | None
    # A session-bound token's live sign-in session, looked up once for the whole request.
    session: LoginSession | None = None
    # The response to send again instead (a retry within the grace window), or None.
    retry: dict[str, Any] | None = None


# The presented token, locked, with what deciding needs; a live row first, should a revoked one
# share its checksum. Compiled once per connection.
_REFRESH_TOKEN_BY_CHECKSUM_LOCKED = PreparedLookup(
    RefreshToken,
    lambda checksum: (
        RefreshToken.objects.select_for_update(of=("self",))
        .filter(token_checksum=checksum)
        .select_related("access_token", "user")
        .order_by(F("revoked").desc(nulls_first=True))
    ),
)


def refresh_token_lock(*, value: str, client: Client) -> RefreshDecision:
    """Lock the refresh token ``value`` presented by ``client`` and decide what it may get.

    Call inside the token request's transaction. A reused token past the grace window has its
    family revoked here.
    """
    token = _REFRESH_TOKEN_BY_CHECKSUM_LOCKED.first(token_checksum(value))
    # RFC 6749 §6: the token must have been issued to the authenticated client.
    if token is None or token.application_id != client.pk:
        return RefreshDecision(None)
    if token.revoked is None:
        session = None if token.offline else login_session_active(token.session_id)
        if not refresh_token_alive(token, session=session):
            return RefreshDecision(None)
        return RefreshDecision(token, session=session)
    retry = _retry_response(token)
    if retry is not None:
        return RefreshDecision(token, retry=retry)
    if token.token_family is not None:
        family_revoke(token.token_family)
    return RefreshDecision(None)


def _retry_response(token: RefreshToken) -> dict[str, Any] | None:
    """Return the successor response to send again, if ``token`` was rotated moments ago."""
    grace = settings.PORCHLIGHT["REFRESH_REUSE_GRACE"]
    if not grace or not token.retry_response_encrypted or token.revoked is None:
        return None
    if timezone.now() - token.revoked > timedelta(seconds=grace):
        return None
    try:
        stored = json.loads(decrypt(token.retry_response_encrypted))
    except (UndecryptableError, ValueError):
        return None
    successor = RefreshToken.objects.filter(
        token_checksum=token_checksum(stored["response"]["refresh_token"]), revoked__isnull=True
    ).first()
    if successor is None or not refresh_token_alive(successor):
        return None
    if not AccessToken.objects.filter(
        token_checksum=token_checksum(stored["response"]["access_token"])
    ).exists():
        return None
    # The lifetimes count from the first response.
    elapsed = int(time.time()) - stored["issued_at"]
    response = dict(stored["response"])
    for key in ("expires_in", "refresh_expires_in"):
        if key in response:
            response[key] = max(0, response[key] - elapsed)
    return response


def refresh_token_rotated(*, token: RefreshToken, response: dict[str, Any]) -> None:
    """Revoke the locked ``token`` now that ``response`` carries its successor.

    As DOT's ``RefreshToken.revoke()`` does, the row is kept (revoked, so a reuse is recognised)
    and the access token issued with it is deleted. The response is kept with it, for retries
    within the grace window. One UPDATE and one DELETE, in the token request's transaction.
    """
    now = timezone.now()
    fields: dict[str, datetime | str | None] = {"revoked": now, "updated": now, "access_token": None}
    if settings.PORCHLIGHT["REFRESH_REUSE_GRACE"]:
        stored = json.dumps({"issued_at": int(time.time()), "response": response}).encode()
        fields["retry_response_encrypted"] = encrypt(stored)
    RefreshToken.objects.filter(pk=token.pk).update(**fields)
    if token.access_token_id is not None:
        # The UPDATE above let go of the only row pointing at it, so a plain DELETE does; the
        # ORM's collector would first SELECT it and clear that link again.
        access_tokens = AccessToken.objects.filter(pk=token.access_token_id)
        access_tokens._raw_delete(access_tokens.db)
