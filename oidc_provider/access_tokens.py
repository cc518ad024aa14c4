"""Access tokens as signed JWTs (RFC 9068), or opaque random strings, per client.

The token generator runs inside oauthlib's BearerToken, before the token is stored, so a JWT
access token is stored (by checksum) like an opaque one and stays revocable and
introspectable. Resource servers that validate locally use JWKS; they cannot see a revocation
before ``exp``, which is why access tokens are short-lived.
"""

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from oauth2_provider.settings import oauth2_settings
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET, Request

from accounts.models import User

from . import keys
from .apis import role_claims, token_api
from .claims import auth_context_claims, claim_values
from .models import Api, Client
from .request_state import state_of
from .subjects import subject_for

# oauthlib's opaque tokens: 30 characters of [A-Za-z0-9], about 178 bits.
TOKEN_LENGTH = 30
_ACCEPTED_BYTE_BELOW = 256 - 256 % len(UNICODE_ASCII_CHARACTER_SET)
# Each accepted byte's character (the byte modulo the alphabet's size), and the bytes skipped:
# bytes.translate maps and drops them in C, without a Python step per character.
_CHARACTER_OF_BYTE = bytes(
    ord(UNICODE_ASCII_CHARACTER_SET[byte % len(UNICODE_ASCII_CHARACTER_SET)])
    if byte < _ACCEPTED_BYTE_BELOW
    else 0
    for byte in range(256)
)
_SKIPPED_BYTES = bytes(range(_ACCEPTED_BYTE_BELOW, 256))


def random_token(request: Request | None = None, refresh_token: bool = False) -> str:
    """Return a new opaque token, as oauthlib's ``random_token_generator`` makes them.

    The same alphabet, length and uniform distribution from the operating system's CSPRNG, read
    once per token rather than once per character (oauthlib's ``SystemRandom.choice``). Bytes at
    or above the largest multiple of the alphabet's size are skipped, so no character is likelier.
    """
    token = b""
    while len(token) < TOKEN_LENGTH:
        token += secrets.token_bytes(TOKEN_LENGTH + 8).translate(_CHARACTER_OF_BYTE, _SKIPPED_BYTES)
    return token[:TOKEN_LENGTH].decode("ascii")


def generate_access_token(request: Request, refresh_token: bool = False) -> str:
    """Return a new access token for ``request``: a JWT unless its API (or client) chose opaque tokens.

    A token for a registered API (its one resource) takes the API's format, lifetime and
    algorithm; any other token the client's. The lifetime is left on the request, where the
    validator reads it into the response's ``expires_in`` (save_bearer_token).
    """
    client: Client | None = getattr(request, "client", None)
    if client is None:
        return random_token(request)
    api = token_api(requested_resources(request))
    if api is not None and api.lifetime:
        request.expires_in = api.lifetime  # type: ignore[attr-defined]  # oauthlib's own attribute
    ceiling = state_of(request).expires_in_at_most
    if ceiling is not None:
        # An exchanged token never outlives the token it was exchanged for (token_exchange.py).
        lifetime = int(getattr(request, "expires_in", None) or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        request.expires_in = min(lifetime, ceiling)  # type: ignore[attr-defined]
    if not _jwt_format(client, api):
        return random_token(request)
    claims = jwt_access_token_claims(request, client=client, api=api)
    return keys.sign(claims, algorithm=_jwt_algorithm(client, api), typ="at+jwt")


def client_credentials_access_token(
    *, client: Client, api: Api | None, scopes: list[str], resources: list[str]
) -> tuple[str, int]:
    """Return a new access token for the client_credentials grant, and its lifetime in seconds.

    What ``generate_access_token`` makes for the same client, API, scopes and resources in
    oauthlib's token request (RFC 6749 §4.4.3): the API's lifetime, else the configured one; a
    JWT (RFC 9068) whose subject is the client, else an opaque token.
    """
    lifetime = (api.lifetime if api is not None else None) or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    if not _jwt_format(client, api):
        return random_token(), lifetime
    claims = access_token_claims(
        client=client, api=api, user=None, resources=resources, lifetime=lifetime, scopes=scopes
    )
    return keys.sign(claims, algorithm=_jwt_algorithm(client, api), typ="at+jwt"), lifetime


def _jwt_format(client: Client, api: Api | None) -> bool:
    """Return whether a token of ``client`` (for ``api``) is a JWT: the API's choice, else the client's."""
    token_format = api.format if api is not None else client.access_token_format
    return token_format == Client.AccessTokenFormat.JWT


def _jwt_algorithm(client: Client, api: Api | None) -> str:
    # RFC 9068 §2.1: RS256 unless the API (or client) chose another of the published key algorithms.
    return api.algorithm if api is not None else client.access_token_algorithm


def jwt_access_token_claims(request: Request, *, client: Client, api: Api | None = None) -> dict[str, Any]:
    """Return the RFC 9068 §2.2 claims for the token being issued to ``client`` (for ``api``)."""
    user = getattr(request, "user", None)
    if user is not None and not getattr(user, "pk", None):
        user = None
    state = state_of(request)
    return access_token_claims(
        client=client,
        api=api,
        user=user,
        resources=requested_resources(request),
        lifetime=int(getattr(request, "expires_in", None) or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        scopes=request.scopes or [],
        auth_context=state.auth_context,
        act=state.act,
    )


def access_token_claims(
    *,
    client: Client,
    api: Api | None,
    user: User | None,
    resources: list[str],
    lifetime: int,
    scopes: list[str],
    auth_context: Mapping[str, Any] | None = None,
    act: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the RFC 9068 §2.2 claims of a token of ``client`` (for ``api``) living ``lifetime`` seconds."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
        # RFC 8707: the audience is the requested resource; otherwise the client itself.
        "aud": resources[0] if len(resources) == 1 else (resources or client.client_id),
        # RFC 9068 §2.2: with no end user the subject is the client.
        "sub": subject_for(user, client) if user is not None else client.client_id,
        "client_id": client.client_id,
        "scope": " ".join(scopes),
    }
    claims.update(auth_context_claims(auth_context or {}))
    if act is not None:
        # RFC 8693 §4.1: who acts for the subject (the exchanging client, earlier actors nested).
        claims["act"] = act
    if api is not None and user is not None:
        # The identity claims staff configured the API to receive (docs/apis.md): released to
        # it whatever the scopes, and the consent page says so. RFC 9068 §2.2.3.1 lists them.
        # The protocol claims above win over a same-named one.
        claims = {
            **claim_values(user, api.token_claims),
            **claims,
            **role_claims(user, api=api, client=client),
        }
    return claims


def requested_resources(request: Request) -> list[str]:
    """Return the RFC 8707 resources the token is for, as DOT will store them on it."""
    resource = getattr(request, "resource", None)
    if isinstance(resource, str):
        # RFC 8707 §2: resource may repeat; oauthlib keeps only the last value.
        body = getattr(request, "decoded_body", None) or []
        resource = [value for key, value in body if key == "resource"] or [resource]
    if resource:
        return list(resource)
    # RFC 8707 §2.2: a token request without resource gets the authorization request's (or the
    # refreshed token's). DOT copies them to the stored token only after this generator has run
    # (_check_and_set_request_resource in save_bearer_token), so read them from the same rows.
    if request.grant_type == "authorization_code":
        source = state_of(request).grant
    else:
        source = getattr(request, "refresh_token_instance", None)
    return list(getattr(source, "resource", None) or [])
