"""Access tokens as signed JWTs (RFC 9068), or opaque random strings, per client.

The token generator runs inside oauthlib's BearerToken, before the token is stored, so a JWT
access token is stored (by checksum) like an opaque one and stays revocable and
introspectable. Resource servers that validate locally use JWKS; they cannot see a revocation
before ``exp``, which is why access tokens are short-lived.
"""

import time
import uuid
from typing import Any

from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749.tokens import random_token_generator

from . import keys
from .claims import auth_context_claims
from .models import Client
from .request_state import state_of
from .subjects import subject_for


def generate_access_token(request: Request, refresh_token: bool = False) -> str:
    """Return a new access token for ``request``: a JWT unless the client chose opaque tokens."""
    client: Client | None = getattr(request, "client", None)
    if client is None or client.access_token_format != Client.AccessTokenFormat.JWT:
        return random_token_generator(request)
    # RFC 9068 §2.1: RS256 unless the client chose another of the published key algorithms.
    claims = jwt_access_token_claims(request, client=client)
    return keys.sign(claims, algorithm=client.access_token_algorithm, typ="at+jwt")


def jwt_access_token_claims(request: Request, *, client: Client) -> dict[str, Any]:
    """Return the RFC 9068 §2.2 claims for the token being issued to ``client``."""
    now = int(time.time())
    user = getattr(request, "user", None)
    resources = requested_resources(request)
    claims: dict[str, Any] = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "exp": now + int(getattr(request, "expires_in", None) or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        "iat": now,
        "jti": str(uuid.uuid4()),
        # RFC 8707: the audience is the requested resource; otherwise the client itself.
        "aud": resources[0] if len(resources) == 1 else (resources or client.client_id),
        # RFC 9068 §2.2: with no end user the subject is the client.
        "sub": (
            subject_for(user, client) if user is not None and getattr(user, "pk", None) else client.client_id
        ),
        "client_id": client.client_id,
        "scope": " ".join(request.scopes or []),
    }
    claims.update(auth_context_claims(state_of(request).auth_context))
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
