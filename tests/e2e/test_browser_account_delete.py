"""In Chromium: deleting one's account, through a fresh sign-in and the confirmation, ending signed out."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import chromium_context, chromium_sign_in


@pytest.fixture
def page(issuer, user) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def test_browser_deletes_the_account_after_signing_in_again(page, issuer, settings):
    page.goto(f"{issuer}/accounts/")
    chromium_sign_in(page)
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()

    # A sign-in older than the recent-authentication window must be repeated first.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "RECENT_AUTH_MAX_AGE": -1}
    page.get_by_role("link", name="Delete your account").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/accounts/login/")
    expect(page.get_by_text("For your security, sign in again to continue.")).to_be_visible()
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "RECENT_AUTH_MAX_AGE": 300}
    chromium_sign_in(page)
    assert urlsplit(page.url).path == "/accounts/delete/"
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()
    expect(page.get_by_text("you cannot sign in again")).to_be_visible()

    page.get_by_label("I understand that my account will be closed now").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account is closed")).to_be_visible()
    expect(page.get_by_text("Your account will be erased on")).to_be_visible()

    # Signed out, and the account no longer signs in.
    page.goto(f"{issuer}/accounts/")
    assert urlsplit(page.url).path == "/accounts/login/"
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The username or password is not correct.")).to_be_visible()
    assert urlsplit(page.url).path == "/accounts/login/"
