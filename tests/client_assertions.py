"""Client assertions (RFC 7523 §2.2, OIDC Core 1.0 §9) as a client library would make them."""

import json
import secrets
import time
from typing import Any

from jwcrypto import jwk, jws
from jwcrypto.common import base64url_encode

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEY_PARAMS: dict[str, dict[str, Any]] = {
    "RS256": {"kty": "RSA", "size": 2048},
    "PS256": {"kty": "RSA", "size": 2048},
    "ES256": {"kty": "EC", "crv": "P-256"},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
}


def client_key(alg: str = "ES256", kid: str | None = None) -> jwk.JWK:
    """Return a new private key for ``alg``, with ``kid`` (its thumbprint by default)."""
    key = jwk.JWK.generate(**KEY_PARAMS[alg])
    key.update({"kid": kid or key.thumbprint()})
    return key


def public_set(*keys: jwk.JWK) -> dict[str, Any]:
    """Return the JWK Set a client registers: the public halves of ``keys``."""
    return {"keys": [key.export_public(as_dict=True) for key in keys]}


def claims_for(
    client_id: str,
    audience: str | list[str],
    *,
    lifetime: int = 60,
    now: float | None = None,
    **overrides: Any,
) -> dict:
    """Return an assertion's claims (RFC 7523 §3) issued ``now`` (the wall clock by default)."""
    now = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + lifetime,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def signed(claims: dict, key: jwk.JWK, alg: str, *, kid: str | None = "key") -> str:
    """Return ``claims`` as a compact JWS signed with ``key`` (``kid="key"``: the key's own kid)."""
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid == "key" and key.get("kid"):
        header["kid"] = key.get("kid")
    elif kid not in (None, "key"):
        header["kid"] = kid
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(key, alg=None, protected=json.dumps(header))
    return token.serialize(compact=True)


def secret_key(secret: str) -> jwk.JWK:
    """Return the HS256 key client_secret_jwt signs with: the client secret's octets."""
    return jwk.JWK(kty="oct", k=base64url_encode(secret.encode()))


def unsigned(claims: dict) -> str:
    """Return ``claims`` as an unsecured JWT (``alg: none``, RFC 7519 §6)."""
    header = base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}))
    return f"{header}.{base64url_encode(json.dumps(claims))}."


def assertion_params(assertion: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
