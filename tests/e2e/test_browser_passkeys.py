"""Passkeys in headless Chromium with a virtual authenticator (CDP WebAuthn domain): register
one, use it as the second factor after the password, then sign in with it alone.

The provider runs at http://localhost:<port>: a secure context for WebAuthn, and a host name
Chromium accepts as RP ID (an IP address is not one).
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    add_virtual_authenticator,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    chromium_sign_out,
    query_of,
    redeem_code,
)
from tests.tokens import claims_of


@pytest.fixture
def second_rp(register):
    return register("Second RP")


@pytest.fixture
def page(passkey_origin, issuer, user, rp_client, second_rp) -> Iterator[Page]:
    """A Chromium page with a virtual platform authenticator that verifies the user (CTAP2)."""
    with chromium_context() as context:
        page = context.new_page()
        add_virtual_authenticator(context, page)
        yield page


def register_passkey(page: Page, issuer: str) -> None:
    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    page.wait_for_url(f"{issuer}/accounts/")
    page.get_by_role("link", name="Two-step sign-in").click()
    page.get_by_role("link", name="Add a passkey or security key").click()
    page.get_by_role("button", name="Add a passkey").click()
    # The first authenticator comes with recovery codes.
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    page.get_by_role("link", name="I have saved them, continue").click()
    page.goto(f"{issuer}/accounts/mfa/")
    expect(page.locator("ul.devices")).to_contain_text("Passkey")


def test_browser_passkey_second_factor_and_passwordless_sign_in(page, issuer, metadata, rp_client, second_rp):
    register_passkey(page, issuer)
    chromium_sign_out(page)

    # Password, then the passkey as the second factor.
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    chromium_sign_in(page)
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    page.get_by_role("button", name="Use your passkey").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == request.state
    tokens = redeem_code(metadata["token_endpoint"], rp_client, callback["code"], request.verifier)
    claims = claims_of(tokens["id_token"])
    # RFC 8176 §2: a password and proof of possession of a device-bound key ("hwk").
    assert claims["amr"] == ["pwd", "hwk", "mfa"]
    assert claims["acr"] == "mfa"

    # The passkey alone, from the login page: no username, no password.
    page.goto(f"{issuer}/accounts/")
    chromium_sign_out(page)
    request = authorization_request(metadata["authorization_endpoint"], second_rp)
    page.goto(request.url)
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{second_rp.redirect_uri}?**")
    code = query_of(page.url)["code"]
    claims = claims_of(redeem_code(metadata["token_endpoint"], second_rp, code, request.verifier)["id_token"])
    # The authenticator verified the user (UV flag), so the key and "user" make two factors.
    assert claims["amr"] == ["hwk", "user", "mfa"]
    assert claims["acr"] == "mfa"
