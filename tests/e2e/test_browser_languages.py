"""In Chromium: a browser that asks for German gets German pages, and the switcher changes them."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import authorization_request, chromium_context


@pytest.fixture
def german_page(issuer, user, rp_client) -> Iterator[Page]:
    """A page in a Chromium whose language is German (its database fixtures made first)."""
    with chromium_context(locale="de-DE") as context:
        yield context.new_page()


def test_browser_language_and_the_switcher(german_page, issuer):
    page = german_page
    page.goto(f"{issuer}/accounts/login/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    assert page.locator("html").get_attribute("lang") == "de"

    # The switcher, as a person uses it: choose a language, press the button.
    page.get_by_label("Sprache").select_option("en")
    page.get_by_role("button", name="Sprache wechseln").click()
    page.wait_for_url(f"{issuer}/accounts/login/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.locator("html").get_attribute("lang") == "en"
    # The choice is kept: the next page is in English too, whatever the browser asks for.
    page.goto(f"{issuer}/accounts/password/reset/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")


def test_browser_ui_locales_through_sign_in_and_consent(german_page, issuer, metadata, rp_client):
    # A German browser, an app asking for English: the app's ui_locales wins for its request.
    page = german_page
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url + "&ui_locales=en")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{metadata['authorization_endpoint']}?**")
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
