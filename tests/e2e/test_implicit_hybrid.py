"""A real relying party (Authlib) runs the implicit and hybrid flows through the sign-in pages.

Authlib builds the request (``create_authorization_url`` with the response type and a nonce),
reads the fragment (``token_from_fragment`` where an access token comes back) and redeems a
hybrid code at the token endpoint; its own OIDC claim classes (``ImplicitIDToken``,
``HybridIDToken``: nonce, at_hash, c_hash) judge the ID token, after its signature is checked
against the published JWKS.
"""

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import HybridIDToken, ImplicitIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from oidc_provider.services import client_create
from tests.e2e.conftest import POST_LOGOUT_REDIRECT_URI, REDIRECT_URI, SCOPE, E2EClient

FRONT_CHANNEL_TYPES = ["id_token", "id_token token", "code id_token", "code token", "code id_token token"]


@pytest.fixture
def legacy_client(issuer) -> E2EClient:
    """A confidential client that turned on every implicit and hybrid response type."""
    client, secret = client_create(
        name="Legacy RP",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT_REDIRECT_URI],
        response_types=["code", *FRONT_CHANNEL_TYPES],
    )
    return E2EClient(client.client_id, secret, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI)


def authlib_id_token(
    id_token: str, *, metadata: dict, client: E2EClient, response_type: str, params: dict
) -> dict:
    """Verify the signature against JWKS, then validate the claims with Authlib's OIDC classes."""
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    token = jwt.decode(
        id_token, KeySet.import_key_set(jwks), algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    claims_class = HybridIDToken if "code" in response_type.split() else ImplicitIDToken
    claims = claims_class(
        token.claims,
        token.header,
        options={"iss": {"essential": True, "value": metadata["issuer"]}, "aud": {"essential": True}},
        params={"client_id": client.client_id, **params},
    )
    claims.validate(leeway=5)
    assert client.client_id in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    return dict(claims)


@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_authlib_runs_the_front_channel_flows(legacy_client, browser, metadata, user, response_type):
    assert response_type in metadata["response_types_supported"]
    assert "fragment" in metadata["response_modes_supported"]
    session = OAuth2Session(
        client_id=legacy_client.client_id,
        client_secret=legacy_client.client_secret,
        scope=SCOPE,
        redirect_uri=legacy_client.redirect_uri,
        code_challenge_method="S256",
    )
    verifier, nonce = generate_token(48), generate_token(16)
    pkce = {}
    if "code" in response_type.split():
        # Authlib adds PKCE by itself only for response_type=code; a hybrid code needs it as much.
        pkce = {"code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], response_type=response_type, nonce=nonce, **pkce
    )
    location = browser.sign_in(url)
    redirect = urlsplit(location)
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == legacy_client.redirect_uri
    assert not redirect.query, "tokens never travel in the query"
    sent = dict(parse_qsl(redirect.fragment))
    assert sent["state"] == state and sent["iss"] == metadata["issuer"]
    assert "refresh_token" not in sent
    words = response_type.split()

    if "token" in words:
        # Authlib's implicit-response reader: access_token, token_type and state.
        token = session.token_from_fragment(location, state=state)
        assert token["token_type"].lower() == "bearer"
        assert 0 < int(token["expires_in"]) <= 300
        userinfo = requests.get(
            metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        assert userinfo.status_code == 200 and userinfo.json()["email"] == "alice@example.com"

    front_sub = None
    if "id_token" in words:
        claims = authlib_id_token(
            sent["id_token"],
            metadata=metadata,
            client=legacy_client,
            response_type=response_type,
            params={"nonce": nonce, "access_token": sent.get("access_token"), "code": sent.get("code")},
        )
        assert claims["nonce"] == nonce
        assert ("at_hash" in claims) == ("access_token" in sent)
        assert ("c_hash" in claims) == ("code" in sent)
        if response_type == "id_token":
            # OIDC Core 1.0 §5.4: no access token, so the claims are in the ID token.
            assert claims["email"] == "alice@example.com"
        front_sub = claims["sub"]

    if "code" in words:
        # The hybrid code is redeemed at the token endpoint like any code, with its PKCE verifier.
        token = session.fetch_token(metadata["token_endpoint"], code=sent["code"], code_verifier=verifier)
        back = authlib_id_token(
            token["id_token"],
            metadata=metadata,
            client=legacy_client,
            response_type="code",
            params={"nonce": nonce, "access_token": token["access_token"]},
        )
        assert front_sub in (None, back["sub"])
