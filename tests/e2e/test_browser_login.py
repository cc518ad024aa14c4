"""A user in headless Chromium signs in to an RP: login form, consent page, back to the RP."""

import secrets
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Page

from tests.conftest import PASSWORD, pkce_pair
from tests.e2e.conftest import SCOPE, E2EClient, chromium_context, query_of

SCREENSHOT = "/tmp/porchlight-consent.png"


@pytest.fixture
def page(issuer, user, rp_client) -> Iterator[Page]:
    """A fresh Chromium page whose requests to the RP are answered locally.

    It depends on every database fixture, so their ORM work is done before Playwright's event
    loop starts and after it stops.
    """
    with chromium_context() as context:
        yield context.new_page()


def authorize_url(metadata: dict, client: E2EClient) -> tuple[str, str, str]:
    """Return (url, state, code_verifier) for a PKCE S256 authorization request."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPE,
        "state": state,
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{metadata['authorization_endpoint']}?{urlencode(query)}", state, verifier


def sign_in(page: Page) -> None:
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_browser_login_consent_returns_code_to_rp(page, issuer, metadata, rp_client):
    url, state, verifier = authorize_url(metadata, rp_client)
    page.goto(url)
    assert page.url.startswith(f"{issuer}/accounts/login/")
    sign_in(page)

    page.wait_for_url(f"{metadata['authorization_endpoint']}?**")
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Example RP wants to use your Porchlight account"
    )
    shared = {
        item.get_attribute("data-scope"): item.inner_text() for item in page.locator("ul.scopes li").all()
    }
    assert list(shared) == SCOPE.split()
    assert "Sign you in" in shared["openid"]
    assert "Your name" in shared["profile"]
    assert "Your email address" in shared["email"]
    assert "when you are not using it" in shared["offline_access"]
    assert page.get_by_role("button", name="Allow").is_visible()
    assert page.get_by_role("button", name="Cancel").is_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == state
    assert callback["iss"] == issuer
    assert callback["code"]
    assert page.get_by_text("Back at the RP").is_visible()

    # The code the browser carried is one the RP can redeem.
    token = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": rp_client.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    )
    assert token.status_code == 200
    assert token.json()["id_token"]


def test_browser_consent_cancel_returns_access_denied(page, issuer, metadata, rp_client):
    url, state, _verifier = authorize_url(metadata, rp_client)
    page.goto(url)
    sign_in(page)
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["error"] == "access_denied"
    assert callback["state"] == state
    assert "code" not in callback


def test_browser_connected_app_revoke_rejects_refresh_token(page, issuer, metadata, rp_client):
    url, _state, verifier = authorize_url(metadata, rp_client)
    page.goto(url)
    sign_in(page)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query_of(page.url)["code"],
            "redirect_uri": rp_client.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    ).json()
    assert tokens["refresh_token"]

    page.goto(f"{issuer}/account/apps/")
    assert page.get_by_role("heading", name="Example RP").is_visible()
    page.get_by_role("link", name="Revoke access for Example RP").click()
    # Asked first, with what the app loses.
    page.wait_for_url(f"{issuer}/account/apps/*/revoke/")
    assert page.get_by_text("Its access and refresh tokens stop working").is_visible()
    page.get_by_role("button", name="Revoke access for Example RP").click()
    page.wait_for_url(f"{issuer}/account/apps/")
    assert page.get_by_role("heading", name="Example RP").count() == 0

    refreshed = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 401
