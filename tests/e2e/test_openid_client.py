"""openid-client (npm, v6) from Node: a real RP configured from discovery alone.

Each test runs a script from tests/e2e/node/ that drives openid-client the way its docs show;
the script reports each step as JSON, and this test plays the user: the requests-based
browser or Chromium signs in, consents and approves devices at the live provider.
"""

from collections.abc import Iterator

import pytest
import requests

from oidc_provider.models import GrantType
from tests.e2e.conftest import (
    chromium_approve_device,
    chromium_context,
    chromium_sign_in,
    query_of,
    verify_id_token,
)
from tests.rp import NodeRP

SCOPE = "openid profile email"


@pytest.fixture
def node_rp() -> Iterator:
    """Start Node RP scripts for the test and stop them after it."""
    started: list[NodeRP] = []

    def start(script: str) -> NodeRP:
        rp = NodeRP(script)
        started.append(rp)
        return rp

    yield start
    for rp in started:
        rp.close()


def start_code_flow(node_rp, register, issuer: str, **settings: str):
    """Start the web-app script, register it as a client, and hand it its configuration."""
    rp = node_rp("code_flow.mjs")
    where = rp.expect("listening")
    client = register(
        "Node app",
        redirect_uri=where["redirect_uri"],
        post_logout_redirect_uri=where["post_logout_redirect_uri"],
    )
    rp.send(
        {
            "issuer": issuer,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "scope": SCOPE,
            **settings,
        }
    )
    assert rp.expect("discovered")["metadata"]["issuer"] == issuer
    return rp, client


def test_openid_client_code_flow_refresh_and_logout(node_rp, register, browser, issuer, metadata, user):
    rp, client = start_code_flow(node_rp, register, issuer)
    url = rp.expect("authorize")["url"]
    assert url.startswith(metadata["authorization_endpoint"] + "?")
    request = query_of(url)
    assert request["code_challenge_method"] == "S256"
    assert request["nonce"] and request["state"]

    # The user signs in and consents; the provider sends the browser to the Node app.
    location = browser.sign_in(url)
    assert location.startswith(client.redirect_uri + "?")
    landing = browser.session.get(location, timeout=30)
    assert landing.status_code == 200
    assert f"Signed in as {user.subject}" in landing.text

    # openid-client checked state, iss, nonce, PKCE and the ID token before these.
    signed_in = rp.expect("signed_in")
    assert signed_in["method"] == "GET"
    tokens = signed_in["tokens"]
    assert tokens["token_type"].lower() == "bearer"
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert signed_in["claims"]["sub"] == user.subject
    assert signed_in["claims"]["aud"] == client.client_id
    assert signed_in["userinfo"]["email"] == "alice@example.com"
    assert signed_in["userinfo"]["given_name"] == "Alice"
    verify_id_token(tokens["id_token"], metadata=metadata, client_id=client.client_id, nonce=request["nonce"])
    # A client registered for refreshing gets a session-bound refresh token without
    # offline_access (DESIGN "two kinds of refresh token"), and how long it lives.
    assert tokens["refresh_token"]
    assert tokens["refresh_expires_in"] > 0

    refreshed = rp.expect("refreshed")
    assert refreshed["tokens"]["access_token"] != tokens["access_token"]
    assert refreshed["tokens"]["refresh_token"] != tokens["refresh_token"]
    assert refreshed["claims"]["sub"] == user.subject
    assert refreshed["claims"]["auth_time"] == signed_in["claims"]["auth_time"]

    # RP-initiated logout with the ID token as hint: no question, straight back to the app.
    logout_url = rp.expect("logout")["url"]
    assert logout_url.startswith(metadata["end_session_endpoint"] + "?")
    response = browser.get(logout_url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(client.post_logout_redirect_uri + "?")
    assert browser.session.get(location, timeout=30).status_code == 200
    logged_out = rp.expect("logged_out")
    assert logged_out["state"] == logged_out["expected_state"]
    # The sign-in session is over, and the session-bound refresh token with it.
    assert logged_out["refresh_after_logout"]["error"] == "invalid_grant"
    assert logged_out["refresh_after_logout"]["status"] == 400


def test_openid_client_form_post_delivers_the_code_in_a_post(node_rp, register, issuer, metadata, user):
    assert "form_post" in metadata["response_modes_supported"]
    rp, client = start_code_flow(node_rp, register, issuer, response_mode="form_post")
    url = rp.expect("authorize")["url"]
    assert query_of(url)["response_mode"] == "form_post"

    with chromium_context() as context:
        page = context.new_page()
        page.goto(url)
        chromium_sign_in(page)
        page.get_by_role("button", name="Allow").click()
        # OAuth 2.0 Form Post Response Mode §2: the provider's page posts the response to the
        # redirect URI, so nothing of it appears in the URL the browser lands on.
        page.wait_for_url(client.redirect_uri)
        signed_in = rp.expect("signed_in")
        assert page.get_by_text(f"Signed in as {user.subject}").is_visible()

    assert signed_in["method"] == "POST"
    assert signed_in["claims"]["sub"] == user.subject
    assert signed_in["userinfo"]["email"] == "alice@example.com"
    assert rp.expect("refreshed")["claims"]["sub"] == user.subject


def test_openid_client_form_post_delivers_access_denied(node_rp, register, issuer, metadata, user):
    assert "form_post" in metadata["response_modes_supported"]
    rp, client = start_code_flow(node_rp, register, issuer, response_mode="form_post")
    url = rp.expect("authorize")["url"]

    with chromium_context() as context:
        page = context.new_page()
        page.goto(url)
        chromium_sign_in(page)
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(client.redirect_uri)
        failed = rp.expect("callback_error")
        assert page.get_by_text("Sign-in failed").is_visible()

    # Errors travel the same way as codes (OAuth 2.0 Form Post Response Mode §2), with state.
    assert failed["method"] == "POST"
    assert failed["error"] == "access_denied"


def test_openid_client_device_flow_for_a_public_client(node_rp, register, issuer, metadata, user):
    client = register(
        "Node CLI",
        public=True,
        grant_types=[GrantType.DEVICE_CODE, GrantType.REFRESH_TOKEN],
    )
    rp = node_rp("device_flow.mjs")
    rp.send({"issuer": issuer, "client_id": client.client_id, "scope": SCOPE})
    discovered = rp.expect("discovered")["metadata"]
    assert discovered["device_authorization_endpoint"] == metadata["device_authorization_endpoint"]
    device = rp.expect("device_authorization")
    assert device["verification_uri"].startswith(issuer + "/")
    assert device["user_code"] in device["verification_uri_complete"]

    # The user approves on another device while openid-client polls (RFC 8628 §3.4-3.5).
    with chromium_context() as context:
        chromium_approve_device(
            context.new_page(), verification_uri=device["verification_uri"], user_code=device["user_code"]
        )

    authorized = rp.expect("authorized", timeout=60)
    tokens = authorized["tokens"]
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert authorized["claims"]["sub"] == user.subject
    assert authorized["claims"]["aud"] == client.client_id
    assert authorized["userinfo"]["email"] == "alice@example.com"
    verify_id_token(tokens["id_token"], metadata=metadata, client_id=client.client_id, nonce=None)
    refreshed = rp.expect("refreshed")
    assert refreshed["claims"]["sub"] == user.subject
    assert refreshed["tokens"]["access_token"] != tokens["access_token"]
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {refreshed['tokens']['access_token']}"},
        timeout=10,
    )
    assert userinfo.json()["sub"] == user.subject
