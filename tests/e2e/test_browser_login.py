"""A user in headless Chromium signs in to an RP: login form, consent page, back to the RP."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import (
    SCOPE,
    assert_tokens_revoked,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    query_of,
    redeem_code,
)


@pytest.fixture
def page(issuer, user, rp_client) -> Iterator[Page]:
    """A fresh Chromium page whose requests to the RP are answered locally.

    It depends on every database fixture, so their ORM work is done before Playwright's event
    loop starts and after it stops.
    """
    with chromium_context() as context:
        yield context.new_page()


def test_browser_login_consent_returns_code_to_rp(page, issuer, metadata, rp_client, tmp_path):
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    assert page.url.startswith(f"{issuer}/accounts/login/")
    chromium_sign_in(page)

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
    assert page.get_by_role("button", name="Deny").is_visible()
    page.screenshot(path=tmp_path / "consent.png", full_page=True)

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == request.state
    assert callback["iss"] == issuer
    assert callback["code"]
    assert page.get_by_text("Back at the RP").is_visible()

    # The code the browser carried is one the RP can redeem.
    tokens = redeem_code(metadata["token_endpoint"], rp_client, callback["code"], request.verifier)
    assert tokens["id_token"]


def test_browser_consent_cancel_returns_access_denied(page, issuer, metadata, rp_client):
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    chromium_sign_in(page)
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["error"] == "access_denied"
    assert callback["state"] == request.state
    assert "code" not in callback


def test_browser_connected_app_revoke_rejects_refresh_token(page, issuer, metadata, rp_client):
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    chromium_sign_in(page)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    tokens = redeem_code(metadata["token_endpoint"], rp_client, query_of(page.url)["code"], request.verifier)
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

    assert_tokens_revoked(metadata, rp_client, tokens)
