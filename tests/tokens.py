"""Reading a compact JWS as a test inspects one: its header and claims, unverified, and the half
hash an ID token carries in ``at_hash``.

Verifying a token is another matter: ``validate_id_token()`` (tests/conftest.py) checks one
against the published JWKS, as a strict RP does.
"""

import base64
import hashlib
import json
from typing import cast

from joserfc import jwt
from joserfc.jwk import KeySet, KeySetSerialization


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def header_of(token: str) -> dict:
    """Return the JOSE header of a compact JWS, without verifying the token."""
    return _segment(token, 0)


def claims_of(token: str) -> dict:
    """Return the claims of a compact JWS, without verifying the token."""
    return _segment(token, 1)


def kid_of(token: str) -> str:
    """Return the id of the key that signed ``token``."""
    return header_of(token)["kid"]


def half_hash(value: str, algorithm: str) -> str:
    """Return ``at_hash`` (or ``c_hash``) of ``value`` for a token signed with ``algorithm``.

    OIDC Core 1.0 §3.1.3.6: the left half of the hash the algorithm uses, base64url-encoded;
    Ed25519 signs with SHA-512, so EdDSA tokens use it (as the conformance suite expects).
    """
    digest = (hashlib.sha512 if algorithm == "EdDSA" else hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def verify_access_token(
    token: str, *, jwks: KeySetSerialization | dict, audience: str, issuer: str, algorithm: str = "RS256"
) -> dict:
    """Validate ``token`` as an RFC 9068 §4 resource server does, with joserfc; return its claims."""
    decoded = jwt.decode(
        token, KeySet.import_key_set(cast(KeySetSerialization, jwks)), algorithms=[algorithm]
    )
    # RFC 9068 §4: the typ header must be at+jwt, so an ID token cannot pass for one.
    assert decoded.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        client_id={"essential": True},
        jti={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims
