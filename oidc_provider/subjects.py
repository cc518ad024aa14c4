"""The ``sub`` a client sees for a user: the public subject, or a pairwise one (OIDC Core 1.0 §8).

Every protocol output takes its ``sub`` from ``subject_for`` — ID token, UserInfo, JWT access
tokens, introspection, logout tokens — and every check of a ``sub`` a client sent back
(``id_token_hint``) compares it with ``subject_for`` of the candidate user, so a pairwise client
never sees, and never has to know, the user's public subject.

OIDC Core 1.0 §8.1: a pairwise identifier is the same for every client of one sector (the host
of its ``sector_identifier_uri`` or of its redirect URIs, ``oidc_provider/sectors.py``), differs
between sectors, and cannot be reversed to the public one. It is computed, never stored:
HMAC-SHA-256, keyed with PORCHLIGHT_PAIRWISE_SALT, over the sector and the user's public subject,
base64url-encoded without padding (43 characters) — §8.1's "hash of the Sector Identifier, local
account ID and salt", with the salt as the HMAC key so that no choice of sector or subject can
collide with another by moving bytes from one to the other.
"""

import base64
import hashlib
import hmac
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .models import Client


class HasSubject(Protocol):
    subject: str


def pairwise_subject(*, sector: str, subject: str) -> str:
    """Return the pairwise ``sub`` of the user whose public subject is ``subject``, in ``sector``."""
    salt = settings.PORCHLIGHT["PAIRWISE_SALT"]
    if not salt:
        # Client.clean() refuses a pairwise client without it; a client made before it was unset.
        raise ImproperlyConfigured("PORCHLIGHT_PAIRWISE_SALT must be set: a pairwise client exists")
    # Lower-cased: host names are case-insensitive (RFC 3986 §3.2.2); "\x00" cannot occur in either.
    message = f"{sector.lower()}\x00{subject}".encode()
    digest = hmac.new(salt.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def subject_for(user: HasSubject, client: Client) -> str:
    """Return the ``sub`` ``client`` knows ``user`` by (OIDC Core 1.0 §8)."""
    if client.subject_type != Client.SubjectType.PAIRWISE:
        return user.subject
    # Client.clean() makes sure a pairwise client has a sector; an app of its own otherwise.
    sector = client.sector or client.client_id
    return pairwise_subject(sector=sector, subject=user.subject)


def audience_client(claims: dict[str, object], client: Client | None) -> Client | None:
    """Return the client an ID token was issued to: ``client`` if its audience names it, else looked up."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client is not None and client.client_id in audiences:
        return client
    azp = claims.get("azp")
    client_id = azp if isinstance(azp, str) else audiences[0] if len(audiences) == 1 else None
    if not isinstance(client_id, str):
        return None
    return Client.objects.filter(client_id=client_id).first()


def subject_matches(sub: object, user: HasSubject, client: Client | None) -> bool:
    """Return whether ``sub``, sent back by ``client`` (an ID token's aud), names ``user``."""
    if not isinstance(sub, str) or not sub:
        return False
    expected = user.subject if client is None else subject_for(user, client)
    return hmac.compare_digest(sub.encode(), expected.encode())
