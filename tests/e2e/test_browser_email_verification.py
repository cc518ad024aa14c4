"""In Chromium: changing the e-mail address on the profile page and following the mailed link."""

import re
from collections.abc import Iterator

import pytest
from django.core import mail
from playwright.sync_api import Page

from tests.e2e.conftest import chromium_context, chromium_sign_in

LINK = re.compile(r"https?://[^/\s]+(/accounts/email/verify/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def page(issuer, user) -> Iterator[Page]:
    with chromium_context(javascript=False) as context:
        yield context.new_page()


def test_browser_email_change_then_link_verifies_it(page, issuer, user):
    page.goto(f"{issuer}/accounts/profile/")
    chromium_sign_in(page)
    page.get_by_label("E-mail address").fill("alice.new@example.com")
    # The contact section has its own Save and returns to that section.
    page.get_by_role("button", name="Save Contact").click()
    page.wait_for_url(f"{issuer}/accounts/profile/#section-contact")
    assert page.get_by_text("We sent a link to alice.new@example.com").is_visible()
    assert page.get_by_text("alice.new@example.com is not verified").is_visible()

    # The live server runs in this process: its mail lands in Django's test outbox. The old
    # address is told of the change; the new one gets the link.
    [notice] = [message for message in mail.outbox if message.to == ["alice@example.com"]]
    assert "alice.new@example.com" in notice.body
    [message] = [message for message in mail.outbox if message.to == ["alice.new@example.com"]]
    page.goto(issuer + LINK.search(message.body).group(1))
    page.get_by_role("button", name="Confirm alice.new@example.com").click()
    assert page.get_by_text("Your address alice.new@example.com is verified").is_visible()

    page.goto(f"{issuer}/accounts/profile/")
    assert page.get_by_text("alice.new@example.com is verified.").is_visible()
    assert page.get_by_role("button", name="resend link").count() == 0
