"""Authorization codes: stored hashed, redeemed once, and a replay revokes what they issued.

RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on
that authorization code." The grant row is locked for the rest of the token request, so of any
number of concurrent redemptions exactly one wins, and the row is kept (marked used) until it
expires so a later replay is recognised.
"""

import hashlib
import uuid

from django.db import transaction
from django.utils import timezone

from .models import Client, Grant
from .tokens import family_revoke


def code_hash(code: str) -> str:
    """Return what is stored for ``code``: its SHA-256 (codes carry 160+ random bits)."""
    return hashlib.sha256(code.encode()).hexdigest()


def grant_for_code(code: str, *, client: Client | None = None) -> Grant | None:
    """Return the grant for ``code`` (issued to ``client`` when given), used or not."""
    grants = Grant.objects.filter(code=code_hash(code)).select_related("user")
    if client is not None:
        grants = grants.filter(application=client)
    return grants.first()


@transaction.atomic(savepoint=False)
def grant_lock(*, code: str, client: Client) -> Grant | None:
    """Lock and return ``code``'s grant if ``client`` may redeem it now, else None.

    Call inside the token request's transaction: the row lock then lasts until the tokens are
    saved, so concurrent redemptions queue here. A code that was already used has its tokens
    revoked. The grant is marked used only once every check passed (``grant_mark_used``), so a
    request with a wrong PKCE verifier or redirect_uri cannot use up someone else's code.
    """
    grant = (
        Grant.objects.select_for_update(of=("self",))
        .filter(code=code_hash(code), application=client)
        .select_related("user")
        .first()
    )
    if grant is None:
        return None
    if grant.used_at is not None:
        if grant.token_family is not None:
            family_revoke(grant.token_family)
        return None
    if grant.is_expired():
        return None
    return grant


def grant_mark_used(*, grant: Grant, token_family: uuid.UUID) -> None:
    """Keep ``grant`` as used, with the family of what it issued, so a replay can revoke it."""
    grant.used_at = timezone.now()
    grant.token_family = token_family
    grant.save(update_fields=["used_at", "token_family"])
