"""UserInfo as a signed JWT (OIDC Core 1.0 §5.3.2), for clients that registered
``userinfo_signed_response_alg`` (OIDC Registration 1.0 §2; ``Client.userinfo_signed_response_alg``).

Signed like the client's ID tokens: with the provider's active key for the algorithm, published in
JWKS, or, for HS256, with the client secret (OIDC Core 1.0 §10.1), which only a confidential
client whose secret is kept encrypted has (``Client.signs_with_secret``, keys_at_rest.py).
"""

from typing import Any

from oauth2_provider.settings import oauth2_settings

from . import keys
from .models import Algorithm, Client

CONTENT_TYPE = "application/jwt"


def userinfo_jwt(claims: dict[str, Any], *, client: Client) -> str:
    """Return ``claims`` signed with ``client``'s UserInfo algorithm, with ``iss`` and ``aud`` added.

    OIDC Core 1.0 §5.3.2: a signed response SHOULD carry iss and aud (the client's id).
    Raises ``SigningKeyUnavailable`` (answered 503) when no key can sign.
    """
    body = {**claims, "iss": oauth2_settings.OIDC_ISS_ENDPOINT, "aud": client.client_id}
    algorithm = client.userinfo_signed_response_alg
    if algorithm == Algorithm.HS256:
        return keys.sign_with_secret(body, client=client)
    return keys.sign(body, algorithm=algorithm)
