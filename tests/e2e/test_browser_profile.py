"""The profile page in Chromium: each section saves its own fields, where the person is."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import chromium_context, chromium_sign_in


@pytest.fixture
def pages(issuer, user) -> Iterator[tuple[Page, Page]]:
    """Two tabs of one signed-in browser (database fixtures first, before Playwright's loop)."""
    with chromium_context() as context:
        first = context.new_page()
        first.goto(f"{issuer}/accounts/profile/")
        chromium_sign_in(first)
        first.wait_for_load_state("load")
        yield first, context.new_page()


def section(page: Page, title: str):
    return page.locator("form.profile", has=page.locator("legend", has_text=title))


def test_browser_profile_section_save_keeps_the_other_sections(pages, issuer):
    tab, other_tab = pages
    tab.goto(f"{issuer}/accounts/profile/")
    tab.wait_for_load_state("load")
    # Each section has its own Save, inside it.
    for title in ("Name", "Contact", "Address", "Language and region", "About you"):
        expect(section(tab, title).get_by_role("button", name=f"Save {title}")).to_have_count(1)

    # Meanwhile, in another tab, the person changes their name.
    other_tab.goto(f"{issuer}/accounts/profile/")
    other_tab.wait_for_load_state("load")
    section(other_tab, "Name").get_by_label("Nickname").fill("Al")
    section(other_tab, "Name").get_by_role("button", name="Save Name").click()
    other_tab.wait_for_load_state("load")
    expect(other_tab.get_by_role("status")).to_contain_text("Your profile was saved.")

    # The first tab still shows the old name; saving its Address must not write the name back.
    address = section(tab, "Address")
    address.get_by_label("Town or city").fill("Oxford")
    address.get_by_role("button", name="Save Address").click()
    tab.wait_for_url("**/accounts/profile/#section-address")
    tab.wait_for_load_state("load")
    expect(tab.get_by_role("status")).to_contain_text("Your profile was saved.")
    # Back at the section just saved, with both changes kept.
    expect(section(tab, "Address").get_by_role("button", name="Save Address")).to_be_in_viewport()
    expect(section(tab, "Address").get_by_label("Town or city")).to_have_value("Oxford")
    expect(section(tab, "Name").get_by_label("Nickname")).to_have_value("Al")
    expect(section(tab, "Name").get_by_label("First name")).to_have_value("Alice")
    expect(section(tab, "Contact").get_by_label("Phone number")).to_have_value("+441632960000")


def test_browser_profile_section_error_stays_in_its_section(pages, issuer):
    tab, _other = pages
    tab.goto(f"{issuer}/accounts/profile/")
    tab.wait_for_load_state("load")
    contact = section(tab, "Contact")
    contact.get_by_label("Phone number").fill("12345")
    contact.get_by_role("button", name="Save Contact").click()
    tab.wait_for_load_state("load")
    expect(section(tab, "Contact").get_by_role("alert")).to_contain_text("international format")
    expect(section(tab, "Name").get_by_role("alert")).to_have_count(0)
    # What was stored is still what the other sections show.
    expect(section(tab, "Name").get_by_label("Last name")).to_have_value("Liddell")
