"""In Chromium: an app sends someone to sign up (prompt=create); they confirm by mail and arrive signed in."""

import re
from collections.abc import Iterator

import pytest
import requests
from django.core import mail
from playwright.sync_api import Page

from tests.e2e.conftest import (
    authorization_request,
    chromium_context,
    query_of,
    redeem_code,
    verify_id_token,
)

LINK = re.compile(r"https?://[^/\s]+(/accounts/signup/verify/[^/\s]+/[^/\s]+/)")
PASSWORD = "a long walk to the lighthouse"


@pytest.fixture
def open_signup(settings):
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "SIGNUP": "open",
        "SIGNUP_FIELDS": ["first_name"],
        "SIGNUP_TERMS_URL": "https://example.com/terms",
        "SIGNUP_TERMS_VERSION": "2026-01",
    }


@pytest.fixture
def page(open_signup, issuer, rp_client) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def test_browser_prompt_create_signup_confirm_then_app_gets_code(
    open_signup, page, issuer, metadata, rp_client
):
    # Prompt Create 1.0 §4.2: an RP learns from discovery that it may send prompt=create.
    assert "create" in metadata["prompt_values_supported"]
    request = authorization_request(
        metadata["authorization_endpoint"], rp_client, scope="openid email profile", prompt="create"
    )
    page.goto(request.url)
    page.wait_for_url(f"{issuer}/accounts/signup/?**")
    page.wait_for_load_state()
    page.get_by_label("First name").fill("Robin")
    page.get_by_label("E-mail address").fill("robin@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_label("I accept the terms of use").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{issuer}/accounts/signup/sent/")
    assert page.get_by_text("We sent a message to robin@example.com").is_visible()

    # The live server runs in this process: its mail lands in Django's test outbox.
    [message] = [message for message in mail.outbox if message.to == ["robin@example.com"]]
    page.goto(issuer + LINK.search(message.body).group(1))
    page.wait_for_load_state()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()

    # Back at the same authorization request, signed in: the consent page, then the app.
    page.wait_for_url(f"{metadata['authorization_endpoint']}?**")
    assert "pl_created=" in page.url
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == request.state

    tokens = redeem_code(metadata["token_endpoint"], rp_client, callback["code"], request.verifier)
    claims = verify_id_token(
        tokens["id_token"], metadata=metadata, client_id=rp_client.client_id, nonce=request.nonce
    )
    assert claims["email"] == "robin@example.com" and claims["email_verified"] is True
    assert claims["given_name"] == "Robin"
    # (No ORM here: Playwright's event loop is running; the account's rows are checked by the
    # test-client tests in tests/accounts/test_signup.py.)
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert userinfo["sub"] == claims["sub"]
