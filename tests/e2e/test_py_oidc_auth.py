"""A real resource server (py-oidc-auth) validating Porchlight's JWT access tokens locally.

py-oidc-auth's framework-neutral pieces are used as its docs show: ``OIDCConfig`` discovers
the provider, ``TokenVerifier`` checks a bearer token's signature against the discovered JWKS
and its iss/aud/exp, and ``OIDCAuth.userinfo`` resolves the user's profile.
"""

import asyncio
import base64
import json

import jwt as pyjwt
import pytest
import requests
from py_oidc_auth import OIDCAuth
from py_oidc_auth.token_validation import TokenVerifier
from py_oidc_auth.utils import OIDCConfig

from tests.e2e.conftest import E2EClient, sign_in_for_tokens

API = "https://api.example.com/"


def discovered_verifier(issuer: str, audience: str) -> TokenVerifier:
    """Configure a resource server for ``audience`` from the issuer's discovery document alone."""
    config = OIDCConfig(client_id=audience, discovery_url=f"{issuer}/.well-known/openid-configuration")
    overview = config.oidc_overview
    assert overview["issuer"] == issuer
    return TokenVerifier(jwks_uri=overview["jwks_uri"], issuer=overview["issuer"], audience=audience)


def verify(verifier: TokenVerifier, token: str):
    return asyncio.run(verifier.verify(token))


def with_claims(token: str, **changes) -> str:
    """Return ``token`` with its payload rewritten and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def introspect(metadata: dict, client: E2EClient, token: str) -> dict:
    response = requests.post(
        metadata["introspection_endpoint"],
        data={"token": token},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def test_py_oidc_auth_validates_access_token_and_reads_the_user(browser, issuer, metadata, rp_client, user):
    tokens = sign_in_for_tokens(browser, metadata, rp_client)
    token = verify(discovered_verifier(issuer, rp_client.client_id), tokens["access_token"])
    assert token.iss == issuer
    assert token.sub == user.subject
    assert token.aud == rp_client.client_id
    assert set(token.scope.split()) == set(tokens["scope"].split())
    assert token.exp - token.iat == tokens["expires_in"]
    # RFC 9068 claims the library keeps as extras.
    extra = token.model_extra
    assert extra["client_id"] == rp_client.client_id
    assert extra["acr"] == "pwd"
    assert isinstance(extra["auth_time"], int)
    assert extra["jti"]


def test_py_oidc_auth_userinfo_resolves_the_profile(browser, issuer, metadata, rp_client, user):
    tokens = sign_in_for_tokens(browser, metadata, rp_client)
    auth = OIDCAuth(client_id=rp_client.client_id, discovery_url=f"{issuer}/.well-known/openid-configuration")

    async def resolve():
        token = await discovered_verifier(issuer, rp_client.client_id).verify(tokens["access_token"])
        # The access token carries no profile claims, so the library asks UserInfo with it.
        return await auth.userinfo(token, {"Authorization": f"Bearer {tokens['access_token']}"})

    profile = asyncio.run(resolve())
    assert profile.username == "alice"
    assert profile.first_name == "Alice"
    assert profile.last_name == "Liddell"
    assert profile.email == "alice@example.com"


def test_py_oidc_auth_rejects_a_tampered_token(browser, issuer, metadata, rp_client, user):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    verifier = discovered_verifier(issuer, rp_client.client_id)
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, with_claims(access_token, sub="someone-else"))
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, with_claims(access_token, scope="openid profile email admin"))
    header, payload, signature = access_token.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, f"{header}.{payload}.{flipped}")
    assert verify(verifier, access_token).sub == user.subject


def test_py_oidc_auth_rejects_a_token_for_another_audience(browser, issuer, metadata, rp_client, user):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    with pytest.raises(pyjwt.InvalidAudienceError):
        verify(discovered_verifier(issuer, API), access_token)


def test_py_oidc_auth_accepts_a_token_for_its_resource_only(browser, issuer, metadata, rp_client, user):
    # RFC 8707: a token asked for the API names the API as its audience, not the client.
    access_token = sign_in_for_tokens(browser, metadata, rp_client, resource=API)["access_token"]
    token = verify(discovered_verifier(issuer, API), access_token)
    assert token.aud == API
    assert token.sub == user.subject
    with pytest.raises(pyjwt.InvalidAudienceError):
        verify(discovered_verifier(issuer, rp_client.client_id), access_token)


def test_py_oidc_auth_validates_locally_so_revocation_shows_only_at_introspection(
    browser, issuer, metadata, rp_client, user
):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    verifier = discovered_verifier(issuer, rp_client.client_id)
    assert verify(verifier, access_token).sub == user.subject
    revoked = requests.post(
        metadata["revocation_endpoint"],
        data={"token": access_token, "token_type_hint": "access_token"},
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    # Local validation cannot see a revocation before exp: this is why access tokens are
    # short-lived, and why a resource server that must honour revocation introspects.
    assert verify(verifier, access_token).sub == user.subject
    assert introspect(metadata, rp_client, access_token) == {"active": False}
    userinfo = requests.get(
        metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert userinfo.status_code == 401
