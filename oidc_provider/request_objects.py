"""Request objects: authorization request parameters in a JWT (OIDC Core 1.0 §6, RFC 9101).

A client sends its parameters as a JWT, by value (``request``) or by reference (``request_uri``,
an https URL the provider fetches). ``request_object_params`` turns either into the parameters
the rest of the authorization endpoint reads:

- Signed with one of the client's registered keys (``client_keys.py``) and an algorithm in
  ``SIGNED_ALGORITHMS``, the one the client registered as ``request_object_signing_alg`` if it
  did. An unsigned one (``alg: none``) only from a client that registered ``none`` (OIDC
  Registration 1.0 §2). Encrypted request objects are not supported (none is advertised).
- ``client_id`` and ``response_type``, when in the object, must equal the query's (OIDC Core 1.0
  §6.1, RFC 9101 §6.3); ``iss``, when present, must be the client and ``aud`` the issuer (RFC 9101
  §6.3, §10.2); ``exp`` and ``nbf``, when present, must hold now.
- Merging (OIDC Core 1.0 §6.3): the object's values win over the query's; for a client that
  registered ``require_signed_request_object`` (RFC 9101 §10.5) only the object's parameters
  count, and a request without one is refused.
- ``request_uri`` (RFC 9101 §5.2): https only and registered by the client in ``request_uris``
  (RFC 9101 §5.2.3 recommends it: the provider fetches no URL the client did not vouch for;
  discovery says ``require_request_uri_registration``), fetched through the guarded outbound
  client (``ground/outbound.py``) with a short timeout and a size cap.

Errors are ``invalid_request_object`` and ``invalid_request_uri`` (OIDC Core 1.0 §3.1.2.6), or
``invalid_request`` for both parameters at once (RFC 9101 §5) or a required object missing.
"""

import json
from typing import Any
from urllib.parse import urldefrag

import httpx
from django.http import QueryDict
from django.utils import timezone
from jwcrypto import jws
from jwcrypto.common import base64url_decode
from oauth2_provider.settings import oauth2_settings

from ground import outbound

from .client_keys import ClientKeysUnavailable, client_verification_keys
from .jwk_sets import SIGNING_ALGORITHMS
from .models import Client

SIGNED_ALGORITHMS = tuple(SIGNING_ALGORITHMS)
# Discovery's request_object_signing_alg_values_supported: "none" for clients that registered it.
REQUEST_OBJECT_ALGORITHMS = (*SIGNED_ALGORITHMS, "none")
MAX_REQUEST_OBJECT_LENGTH = 32 * 1024
FETCH_TIMEOUT = 5.0
CLOCK_SKEW = 60
# JWT claims about the object itself, not authorization request parameters.
JWT_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti", "sub")
# Parameters that never come from an object (RFC 9101 §4: no nesting).
NOT_FROM_OBJECT = ("request", "request_uri")


class RequestObjectError(Exception):
    """A request object refused; ``error`` is an OIDC Core 1.0 §3.1.2.6 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _invalid(description: str) -> RequestObjectError:
    return RequestObjectError("invalid_request_object", description)


def _fetched(client: Client, uri: str) -> str:
    """Return the request object at ``uri``, which ``client`` must have registered (RFC 9101 §5.2.3)."""
    registered = {urldefrag(value)[0] for value in client.request_uris.split()}
    if not uri.startswith("https://") or urldefrag(uri)[0] not in registered:
        raise RequestObjectError("invalid_request_uri", "request_uri is not one the client registered.")
    try:
        response = outbound.request(
            "GET",
            uri,
            timeout=FETCH_TIMEOUT,
            max_bytes=MAX_REQUEST_OBJECT_LENGTH,
            headers={"Accept": "application/oauth-authz-req+jwt, application/jwt"},
        )
    except outbound.OutboundRefused as refused:
        raise RequestObjectError(
            "invalid_request_uri", f"request_uri cannot be fetched: {refused.reason}"
        ) from None
    except httpx.HTTPError:
        raise RequestObjectError("invalid_request_uri", "request_uri could not be fetched.") from None
    if response.status_code != 200 or response.truncated:
        raise RequestObjectError("invalid_request_uri", "request_uri did not answer with a request object.")
    try:
        return response.content.decode("ascii").strip()
    except UnicodeDecodeError:
        raise RequestObjectError("invalid_request_uri", "request_uri did not answer with a JWT.") from None


def _header(token: str) -> dict[str, Any]:
    try:
        header = json.loads(base64url_decode(token.split(".")[0]))
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The request object's header is not valid.") from None
    if not isinstance(header, dict):
        raise _invalid("The request object's header is not valid.")
    return header


def _claims(client: Client, token: str) -> dict[str, Any]:
    """Verify ``token`` as ``client``'s request object; return its claims."""
    if len(token) > MAX_REQUEST_OBJECT_LENGTH or token.count(".") != 2:
        raise _invalid("The request object is not a signed JWT (encrypted ones are not supported).")
    header = _header(token)
    alg, kid = header.get("alg"), header.get("kid")
    registered = client.request_object_signing_alg
    if alg == "none":
        if registered != "none" or client.require_signed_request_object or token.split(".")[2]:
            raise _invalid("The request object must be signed.")
        payload = token.split(".")[1]
    else:
        if not isinstance(alg, str) or alg not in SIGNED_ALGORITHMS or (registered and alg != registered):
            raise _invalid(
                f"The request object's algorithm must be {registered or ', '.join(SIGNED_ALGORITHMS)}."
            )
        if kid is not None and not isinstance(kid, str):
            raise _invalid("The request object's kid is not a string.")
        try:
            keys = client_verification_keys(client, kid=kid, alg=alg)
        except ClientKeysUnavailable:
            raise _invalid("The client's keys cannot be used to verify the request object.") from None
        parsed = jws.JWS()
        try:
            parsed.deserialize(token)
        except Exception:  # noqa: BLE001 - jwcrypto raises several kinds for malformed input
            raise _invalid("The request object is not a valid JWS.") from None
        for key in keys:
            try:
                parsed.verify(key, alg=alg)
                break
            except Exception:  # noqa: BLE001, S112 - this key does not verify it: try the next
                continue
        else:
            raise _invalid("The request object's signature does not verify with the client's keys.")
        payload = token.split(".")[1]
    try:
        claims = json.loads(base64url_decode(payload))
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The request object's payload is not JSON.") from None
    if not isinstance(claims, dict):
        raise _invalid("The request object's payload is not a JSON object.")
    return claims


def _check(client: Client, claims: dict[str, Any], query: QueryDict) -> None:
    # OIDC Core 1.0 §6.1, RFC 9101 §6.3: the query's client_id and response_type are the request's.
    for name in ("client_id", "response_type"):
        if name in claims and claims[name] != query.get(name):
            raise _invalid(f"{name} in the request object differs from the request's.")
    if "iss" in claims and claims["iss"] != client.client_id:
        raise _invalid("The request object's iss is not the client.")
    if "aud" in claims:
        aud = claims["aud"]
        named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if oauth2_settings.OIDC_ISS_ENDPOINT not in named:
            raise _invalid("The request object's aud is not this provider.")
    now = timezone.now().timestamp()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    for name, value in (("exp", exp), ("nbf", nbf)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _invalid(f"The request object's {name} is not a number.")
    if exp is not None and exp <= now:
        raise _invalid("The request object has expired.")
    if nbf is not None and nbf > now + CLOCK_SKEW:
        raise _invalid("The request object is not valid yet.")


def _as_params(claims: dict[str, Any]) -> QueryDict:
    params = QueryDict(mutable=True)
    for name, value in claims.items():
        if name in JWT_CLAIMS or name in NOT_FROM_OBJECT:
            continue
        if name == "claims" and isinstance(value, dict):
            params[name] = json.dumps(value)
        elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
            params[name] = str(value)
        elif name == "resource" and isinstance(value, list) and all(isinstance(item, str) for item in value):
            params.setlist(name, value)
        elif isinstance(value, str):
            params[name] = value
        else:
            raise _invalid(f"{name[:40]} in the request object is not a string.")
    return params


def request_object_params(query: QueryDict, *, keep: tuple[str, ...] = ()) -> QueryDict | None:
    """Return the request's parameters merged with its request object, or None when it has none.

    ``keep`` names the provider's own parameters (not the client's) taken from the query always.
    Raises RequestObjectError for a refused object, or a missing one the client must send.
    """
    by_value, by_reference = query.get("request"), query.get("request_uri")
    if by_value is None and by_reference is None:
        client = Client.objects.filter(client_id=query.get("client_id") or "").first()
        if client is not None and client.require_signed_request_object:
            raise RequestObjectError(
                "invalid_request",
                "This client's authorization requests must come in a signed request object.",
            )
        return None
    if by_value is not None and by_reference is not None:
        # RFC 9101 §5: one or the other.
        raise RequestObjectError("invalid_request", "Send request or request_uri, not both.")
    client = Client.objects.filter(client_id=query.get("client_id") or "").first()
    if client is None:
        # RFC 9101 §5: client_id is in the query too; without a client nothing can verify it.
        raise RequestObjectError("invalid_request", "client_id is required with a request object.")
    token = by_value if by_value is not None else _fetched(client, by_reference or "")
    claims = _claims(client, token.strip())
    _check(client, claims, query)
    from_object = _as_params(claims)
    if client.require_signed_request_object:
        # RFC 9101 §10.5: only the request object's parameters count.
        merged = QueryDict(mutable=True)
        for name in ("client_id", *keep):
            if name in query:
                merged.setlist(name, query.getlist(name))
    else:
        merged = query.copy()
        for name in NOT_FROM_OBJECT:
            merged.pop(name, None)
    for name in from_object:
        merged.setlist(name, from_object.getlist(name))
    if "client_id" not in merged:
        merged["client_id"] = client.client_id
    return merged
