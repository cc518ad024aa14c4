"""How clients authenticate: each client's one method, and JWT client assertions.

OIDC Core 1.0 §9 defines four methods; a confidential client is registered for one
(``Client.token_endpoint_auth_method``) and may authenticate only with it, at the token,
introspection, revocation and device authorization endpoints alike:

- ``client_secret_basic`` / ``client_secret_post``: the secret itself, in HTTP Basic or in the
  body (RFC 6749 §2.3.1). The two send the same secret, so a client registered for either may use
  either (DOT's check); a client registered for a JWT method may use neither.
- ``client_secret_jwt``: a JWT signed with HS256 and the client secret, which the provider
  therefore keeps encrypted (``keys_at_rest.py``) besides its hash.
- ``private_key_jwt``: a JWT signed with one of the client's registered public keys
  (``client_keys.py``), RS256, PS256, ES256 or EdDSA.

A public client (``none``) only names itself (RFC 6749 §2.1).

The assertion (RFC 7523 §2.2, §3) is sent as ``client_assertion`` with ``client_assertion_type``
``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``. It must have ``iss`` and ``sub`` equal
to the client_id; an ``aud`` naming this provider: its issuer, its token endpoint (OIDC Core 1.0
§9) or the endpoint it is sent to (RFC 7523 §3). The issuer is accepted as well because RFC 7523
lets the authorization server name itself by issuer and current practice (FAPI 2.0, the RFC 7523
update in draft) prefers it; every accepted value names this provider only. ``exp`` must be in
the future and at most ``MAX_LIFETIME`` after ``iat`` (or after now, without ``iat``); a ``jti``
is required and used once: its (client, jti) row is inserted before the assertion is accepted,
and the unique constraint refuses a second use on any node (``ClientAssertionUse``), so a
replayed or concurrently reused assertion is ``invalid_client`` (RFC 6749 §5.2). Rows are pruned
by housekeeping once the assertion has expired, when it could no longer be accepted anyway.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from jwcrypto import jwk, jws
from jwcrypto.common import base64url_encode

from .client_keys import ClientKeysUnavailable, client_verification_keys
from .jwk_sets import HMAC_ALGORITHMS, SIGNING_ALGORITHMS
from .keys_at_rest import SigningKeyUnavailable, decrypt_secret
from .models import Client, ClientAssertionUse

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AuthMethod = Client.AuthMethod
# The algorithms each JWT method accepts; discovery's *_auth_signing_alg_values_supported.
METHOD_ALGORITHMS: dict[str, tuple[str, ...]] = {
    AuthMethod.CLIENT_SECRET_JWT: HMAC_ALGORITHMS,
    AuthMethod.PRIVATE_KEY_JWT: tuple(SIGNING_ALGORITHMS),
}
JWT_METHODS = tuple(METHOD_ALGORITHMS)
# Discovery's token_endpoint_auth_methods_supported: every method authenticate() accepts.
AUTH_METHODS = (*AuthMethod.values, "none")
ASSERTION_ALGORITHMS = tuple(alg for algs in METHOD_ALGORITHMS.values() for alg in algs)
# RFC 7523 §3 lets the server bound exp. An hour: what Authlib and Google's service-account
# assertions use by default; replays are stopped by the single-use jti, not by a short life, and
# a used jti is remembered only this long.
MAX_LIFETIME = 3600
# How far the client's clock may run ahead of ours (iat, nbf).
CLOCK_SKEW = 60
MAX_ASSERTION_LENGTH = 16 * 1024
MAX_JTI_LENGTH = 256


class AssertionRefused(Exception):
    """A client assertion that does not authenticate its client; the message says why (for logs)."""


def assertion_of(body: Iterable[tuple[str, str]]) -> str | None:
    """Return the client assertion a request body carries, "" if it is malformed, None if none.

    RFC 7523 §2.2: both parameters, the type exactly the JWT bearer one.
    """
    params = dict(body)
    kind, assertion = params.get("client_assertion_type"), params.get("client_assertion")
    if kind is None and assertion is None:
        return None
    if kind != ASSERTION_TYPE or not assertion:
        return ""
    return assertion


def assertion_subject(assertion: str) -> str | None:
    """Return the unverified ``sub`` of ``assertion``, the client it names (RFC 7523 §3), or None."""
    try:
        claims = json.loads(_parsed(assertion).objects["payload"])
    except (AssertionRefused, ValueError, KeyError, TypeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and sub else None


def secret_method_allowed(client: Client) -> bool:
    """Return whether ``client`` may authenticate by sending its secret itself."""
    return client.token_endpoint_auth_method not in JWT_METHODS


def _parsed(assertion: str) -> jws.JWS:
    if len(assertion) > MAX_ASSERTION_LENGTH or assertion.count(".") != 2:
        raise AssertionRefused("not a compact JWS")
    token = jws.JWS()
    try:
        token.deserialize(assertion)
    except Exception as error:  # noqa: BLE001 - jwcrypto raises several kinds for malformed input
        raise AssertionRefused("not a compact JWS") from error
    return token


def _keys(client: Client, alg: str, kid: str | None) -> list[jwk.JWK]:
    if alg == "HS256":
        if not client.client_secret_encrypted:
            raise AssertionRefused("the client's secret is not kept for client_secret_jwt; reset it")
        try:
            secret = decrypt_secret(client.client_secret_encrypted).encode()
        except SigningKeyUnavailable as error:
            raise AssertionRefused(str(error)) from error
        return [jwk.JWK(kty="oct", k=base64url_encode(secret))]
    try:
        return client_verification_keys(client, kid=kid, alg=alg)
    except ClientKeysUnavailable as error:
        raise AssertionRefused(str(error)) from error


def _verified_claims(client: Client, assertion: str) -> dict[str, Any]:
    token = _parsed(assertion)
    header = token.jose_header
    if not isinstance(header, dict):
        raise AssertionRefused("no JOSE header")
    alg, kid = header.get("alg"), header.get("kid")
    method = client.token_endpoint_auth_method
    # Only the client's own method's algorithms: never "none", never HS256 with a public key
    # as the secret (algorithm confusion), never a key where the secret was registered.
    allowed = METHOD_ALGORITHMS.get(method, ())
    if client.token_endpoint_auth_signing_alg:
        allowed = tuple(a for a in allowed if a == client.token_endpoint_auth_signing_alg)
    if not isinstance(alg, str) or alg not in allowed:
        raise AssertionRefused(f"alg {str(alg)[:20]!r} is not accepted for this client")
    if kid is not None and not isinstance(kid, str):
        raise AssertionRefused("kid is not a string")
    for key in _keys(client, alg, kid):
        try:
            token.verify(key, alg=alg)
        except Exception:  # noqa: BLE001, S112 - a key that does not verify: try the next
            continue
        try:
            claims = json.loads(token.payload)
        except ValueError as error:
            raise AssertionRefused("the payload is not JSON") from error
        if not isinstance(claims, dict):
            raise AssertionRefused("the payload is not a JSON object")
        return claims
    raise AssertionRefused("the signature does not verify with the client's keys")


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AssertionRefused(f"{name} is not a number")
    return float(value)


def _check_claims(client: Client, claims: dict[str, Any], audiences: set[str]) -> tuple[str, float]:
    """Check the claims of a verified assertion; return its jti and exp."""
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise AssertionRefused("iss and sub must be the client_id")
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not audiences.intersection(value for value in named if isinstance(value, str)):
        raise AssertionRefused("aud does not name this provider")
    now = timezone.now().timestamp()
    exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    if exp is None:
        raise AssertionRefused("exp is missing")
    if exp <= now:
        raise AssertionRefused("the assertion has expired")
    if iat is not None and iat > now + CLOCK_SKEW:
        raise AssertionRefused("iat is in the future")
    if exp - (iat if iat is not None else now) > MAX_LIFETIME:
        raise AssertionRefused(f"the assertion lives longer than {MAX_LIFETIME} seconds")
    if nbf is not None and nbf > now + CLOCK_SKEW:
        raise AssertionRefused("the assertion is not valid yet")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise AssertionRefused("jti is missing")
    return jti, exp


def _use_once(client: Client, jti: str, exp: float) -> None:
    """Record the use of ``jti``; the unique constraint refuses a second, on any node."""
    digest = hashlib.sha256(jti.encode()).hexdigest()
    try:
        # A savepoint when a transaction is open, so a refused INSERT leaves it usable.
        with transaction.atomic():
            ClientAssertionUse.objects.create(
                client=client, jti_hash=digest, expires=datetime.fromtimestamp(exp, tz=UTC)
            )
    except IntegrityError as error:
        raise AssertionRefused("the assertion's jti was used before") from error


def assertion_authenticate(*, client: Client, assertion: str, audiences: set[str]) -> None:
    """Authenticate ``client`` by ``assertion``, spending its jti; raise AssertionRefused if it fails."""
    if (
        client.client_type != Client.CLIENT_CONFIDENTIAL
        or client.token_endpoint_auth_method not in JWT_METHODS
    ):
        raise AssertionRefused("the client is not registered for a JWT authentication method")
    claims = _verified_claims(client, assertion)
    jti, exp = _check_claims(client, claims, audiences)
    _use_once(client, jti, exp)


def assertion_uses_ended() -> QuerySet[ClientAssertionUse]:
    """Return the recorded jti uses whose assertions have expired, for housekeeping to delete."""
    return ClientAssertionUse.objects.filter(expires__lte=timezone.now())
