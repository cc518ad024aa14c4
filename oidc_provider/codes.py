"""Authorization codes: stored hashed, redeemed once, and a replay revokes what they issued.

RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on
that authorization code." The grant row is locked for the rest of the token request, so of any
number of concurrent redemptions exactly one wins, and the row is kept (marked used) until it
expires so a later replay is recognised.
"""

import uuid

from django.db import transaction
from django.utils import timezone

from ground.checksums import token_checksum
from ground.prepared_queries import PreparedLookup

from .models import Client, Grant
from .tokens import family_revoke

# The token request's one read of the grant: locked, with the user and the client the response
# needs, compiled once per connection.
_GRANT_BY_CODE_LOCKED = PreparedLookup(
    Grant,
    lambda digest: (
        Grant.objects.select_for_update(of=("self",))
        .select_related("user", "application")
        .filter(code=digest)
    ),
)


def grant_for_code(code: str, *, client: Client | None = None) -> Grant | None:
    """Return the grant for ``code`` (issued to ``client`` when given), used or not."""
    grants = Grant.objects.filter(code=token_checksum(code)).select_related("user")
    if client is not None:
        grants = grants.filter(application=client)
    return grants.first()


@transaction.atomic(savepoint=False)
def grant_lock(*, code: str) -> Grant | None:
    """Lock and return ``code``'s grant, used or not, with its user and client; None if unknown.

    Call inside the token request's transaction: the row lock then lasts until the tokens are
    saved, so concurrent redemptions queue here and each sees what the one before it wrote.
    Whether the grant may be redeemed is ``grant_redeemable``'s to decide, once the client has
    authenticated.
    """
    return _GRANT_BY_CODE_LOCKED.first(token_checksum(code))


def grant_redeemable(*, grant: Grant | None, client: Client) -> bool:
    """Return whether ``client`` may redeem the locked ``grant`` now; a replay revokes its tokens.

    The grant is marked used only once every check passed (``grant_mark_used``), so a request
    with a wrong PKCE verifier or redirect_uri cannot use up someone else's code.
    """
    # RFC 6749 §4.1.3: the code must have been issued to this client. Another client's code is
    # refused without revoking anything: only the client the code was issued to can replay it.
    if grant is None or grant.application_id != client.pk:
        return False
    if grant.used_at is not None:
        if grant.token_family is not None:
            family_revoke(grant.token_family)
        return False
    return not grant.is_expired()


def grant_mark_used(*, grant: Grant, token_family: uuid.UUID) -> None:
    """Keep ``grant`` as used, with the family of what it issued, so a replay can revoke it."""
    grant.used_at = timezone.now()
    grant.token_family = token_family
    grant.save(update_fields=["used_at", "token_family"])
