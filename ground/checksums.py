"""The checksum a stored secret is found by: tokens, codes and links kept only as a hash.

A token is random (128+ bits), so one SHA-256 without salt or stretching is enough to keep the
stored value useless to a reader of the database (RFC 9700 §4.14 on storing credentials) while
still letting an indexed equality lookup find it. DOT stores its tokens' ``token_checksum``
the same way, so a value hashed here matches the column DOT fills.
"""

import hashlib


def token_checksum(value: str) -> str:
    """Return the SHA-256 hex digest of ``value`` encoded as UTF-8.

    ``surrogatepass`` gives the same bytes as a plain ``encode()`` for every valid string, so
    stored checksums are unchanged, and a presented value with a lone surrogate (which no issued
    token contains) is hashed, and then simply not found, instead of raising.
    """
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
