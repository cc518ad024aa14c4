"""A native app (RFC 8252) against the live provider: a private-use URI scheme redirect and PKCE.

The app is a public client registered with ``com.example.porchlight:/oauth2redirect`` (RFC 8252
§7.1: a reverse-domain scheme). It drives the flow with Authlib's OAuth2 session, as a desktop
or mobile app written in Python would: it opens the authorization URL in the user's browser,
the operating system hands the ``com.example.porchlight:`` redirect back to the app, and the app
redeems the code with its PKCE verifier and no secret (RFC 8252 §8.1), then refreshes.
"""

from urllib.parse import urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from oidc_provider.models import GrantType
from tests.e2e.conftest import SCOPE, Browser, query_of, verify_id_token

REDIRECT = "com.example.porchlight:/oauth2redirect"


@pytest.fixture
def native_app(register):
    return register(
        "Phone app",
        public=True,
        redirect_uri=REDIRECT,
        grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
    )


def test_native_app_signs_in_through_a_private_use_scheme_redirect(
    browser: Browser, metadata, native_app, user
):
    app = OAuth2Session(
        client_id=native_app.client_id,
        scope=SCOPE,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = app.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    # The browser leaves the provider for the app's own scheme, where the OS hands it over.
    location = browser.sign_in(url)
    assert urlsplit(location).scheme == "com.example.porchlight"
    assert location.startswith(REDIRECT + "?")
    callback = query_of(location)
    assert callback["state"] == state
    assert callback["iss"] == metadata["issuer"]

    token = app.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    claims = verify_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=native_app.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] == user.subject
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == user.subject

    # The app keeps the user signed in with its refresh token, still without a secret.
    refreshed = app.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]


def test_native_app_code_cannot_be_redeemed_without_its_verifier(
    browser: Browser, metadata, native_app, user
):
    # Another app on the device that registered the same scheme and caught the redirect has the
    # code but not the verifier (RFC 8252 §8.1, RFC 7636 §1): the code buys it nothing.
    app = OAuth2Session(
        client_id=native_app.client_id, scope=SCOPE, redirect_uri=REDIRECT, code_challenge_method="S256"
    )
    url, _state = app.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=generate_token(48), nonce=generate_token(16)
    )
    location = browser.sign_in(url)
    assert "code" in query_of(location), location
    stolen = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": REDIRECT,
            "client_id": native_app.client_id,
            "code_verifier": generate_token(48),
        },
        timeout=10,
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
