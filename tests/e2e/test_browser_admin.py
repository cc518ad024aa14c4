"""What a new administrator does in the admin, in headless Chromium: register a web app from
nothing and hand its settings to a code flow; find a user and revoke their tokens; remove a
user's passkey. And passkey buttons that explain themselves where the page cannot use passkeys.

The ORM is never used inside the browser's event loop: every row a test needs is made by a
fixture first, and what a test checks it reads from pages or over HTTP.
"""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import (
    POST_LOGOUT_REDIRECT_URI,
    REDIRECT_URI,
    RP_ORIGIN,
    E2EClient,
    assert_tokens_revoked,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    copied,
    query_of,
    redeem_code,
    rp_page,
    sign_in_for_tokens,
    verify_id_token,
)


@pytest.fixture
def alices_passkey(user):
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.create(
        user=user,
        name="Alice's laptop",
        confirmed=True,
        credential_id=b"credential-1",
        public_key=b"not-a-real-key",
        aaguid="00000000-0000-0000-0000-000000000000",
    )


@pytest.fixture
def context(issuer, root, user, rp_client, passkey_origin) -> Iterator[BrowserContext]:
    """A Chromium context that may read what the admin's copy buttons put on the clipboard."""
    with chromium_context() as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=issuer)
        yield context


def staff_signs_in(page: Page, issuer: str) -> None:
    page.goto(f"{issuer}/admin/")
    chromium_sign_in(page, username="root", password=STAFF_PASSWORD)
    expect(page.get_by_role("heading", name="Manage apps, people and keys")).to_be_visible()


def copied_setting(page: Page, label: str) -> str:
    """Press the panel's copy button for ``label`` and return what reached the clipboard."""
    return copied(page, f"Copy {label}")


def test_browser_admin_registers_a_web_app_whose_copied_settings_complete_a_code_flow(
    context, issuer, metadata
):
    page = context.new_page()
    staff_signs_in(page, issuer)
    page.get_by_role("link", name="Apps", exact=True).click()
    page.get_by_role("link", name="Add app").click()
    page.get_by_role("link", name="Web server app").click()
    # The admin's add form focuses its first field once loaded (change_form.js): type after that,
    # or the focus moves into Name halfway through filling another field.
    page.wait_for_load_state("load")
    page.get_by_role("textbox", name="Name:").fill("Team wiki")
    page.get_by_role("textbox", name="Redirect URIs:").fill(REDIRECT_URI)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_role("heading", name="Team wiki is ready")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Copy the client secret now")
    settings = {
        label: copied_setting(page, label)
        for label in ("issuer", "client id", "client secret", "redirect uri")
    }
    assert settings["issuer"] == issuer
    assert settings["redirect uri"] == REDIRECT_URI
    everything = copied_setting(page, "all settings")
    assert f"OIDC_CLIENT_SECRET={settings['client secret']}" in everything.splitlines()

    # The developer configures their app with what was copied: discovery from the issuer, then
    # the code flow with PKCE, and alice signs in through her own browser.
    discovered = requests.get(f"{settings['issuer']}/.well-known/openid-configuration", timeout=10).json()
    wiki = E2EClient(
        settings["client id"], settings["client secret"], settings["redirect uri"], POST_LOGOUT_REDIRECT_URI
    )
    request = authorization_request(discovered["authorization_endpoint"], wiki)
    alice = context.browser.new_context()
    alice.route(f"{RP_ORIGIN}/**", rp_page)
    user_page = alice.new_page()
    user_page.goto(request.url)
    chromium_sign_in(user_page)
    expect(user_page.get_by_role("heading", level=1)).to_contain_text("Team wiki wants to use your")
    user_page.get_by_role("button", name="Allow").click()
    user_page.wait_for_url(f"{REDIRECT_URI}?**")
    code = query_of(user_page.url)["code"]
    alice.close()
    tokens = redeem_code(discovered["token_endpoint"], wiki, code, request.verifier)
    claims = verify_id_token(
        tokens["id_token"], metadata=discovered, client_id=wiki.client_id, nonce=request.nonce
    )
    assert claims["preferred_username"] == "alice"


def test_browser_admin_finds_a_user_revokes_their_tokens_and_their_refresh_token_is_refused(
    context, issuer, metadata, rp_client, browser
):
    tokens = sign_in_for_tokens(browser, metadata, rp_client)
    page = context.new_page()
    staff_signs_in(page, issuer)
    page.get_by_role("link", name="Users").click()
    page.get_by_role("textbox", name="Search").fill("alice")
    page.keyboard.press("Enter")
    # The list before the search has an "alice" link too: a click on it while the search's page
    # loads can be lost when that page replaces it, so the search's answer comes first.
    expect(page).to_have_url(re.compile(r"[?&]q=alice"))
    page.get_by_role("link", name="alice", exact=True).click()
    section = page.get_by_role("region", name="Apps and tokens")
    expect(section).to_contain_text("Example RP")
    expect(section).to_contain_text("1 live refresh token")
    section.get_by_role("button", name="Revoke all tokens").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Revoked")
    expect(page.get_by_role("region", name="Apps and tokens")).to_contain_text("0 live refresh tokens")

    assert_tokens_revoked(metadata, rp_client, tokens)


def test_browser_admin_removes_a_users_passkey(alices_passkey, context, issuer):
    page = context.new_page()
    staff_signs_in(page, issuer)
    page.goto(f"{issuer}/admin/accounts/user/?q=alice")
    page.get_by_role("link", name="alice", exact=True).click()
    section = page.get_by_role("region", name="Two-step sign-in")
    expect(section).to_contain_text("Alice's laptop")
    expect(section).to_contain_text("passkey or security key")
    section.get_by_role("button", name="Remove Alice's laptop").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Removed alice’s “Alice's laptop”")
    expect(page.get_by_role("region", name="Two-step sign-in")).to_contain_text(
        "No authenticator app or passkey"
    )
    events = page.get_by_role("region", name="Recent events")
    expect(events).to_contain_text("user.device_remove")


def test_browser_passkey_buttons_say_why_they_are_missing_on_an_ip_address(context, issuer):
    page = context.new_page()
    port = urlsplit(issuer).port
    page.goto(f"http://127.0.0.1:{port}/accounts/login/")
    reason = page.locator(".passkey-unusable")
    expect(reason).to_have_text(
        f"Passkeys don’t work on an IP address (127.0.0.1). Open {issuer} to use them."
    )
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)
    expect(reason.get_by_role("link")).to_have_attribute("href", f"{issuer}/accounts/login/")

    # The address it offers is one where they work.
    reason.get_by_role("link").click()
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    expect(page.locator(".passkey-unusable")).to_have_count(0)


@pytest.fixture
def handover_path(rp_client) -> str:
    from django.urls import reverse

    from oidc_provider.models import Client

    client = Client.objects.get(client_id=rp_client.client_id)
    return reverse("admin:oidc_provider_client_handover", args=[client.pk])


@pytest.fixture
def german_context(issuer, root, handover_path) -> Iterator[BrowserContext]:
    """A German Chromium that may use the clipboard, as ``context`` is in English."""
    with chromium_context(locale="de-DE") as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=issuer)
        yield context


def test_browser_admin_copy_buttons_answer_in_the_staff_members_language(
    german_context, issuer, handover_path, rp_client
):
    page = german_context.new_page()
    page.goto(f"{issuer}/admin/")
    page.get_by_label("Benutzername").fill("root")
    page.get_by_label("Passwort").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/")
    page.goto(f"{issuer}{handover_path}")
    # Its name says what it copies (the label, lower case, in the sentence); its text is short.
    client_id = page.get_by_role("button", name="client-id kopieren", exact=True)
    expect(client_id).to_have_text("Kopieren")
    # "Kopiert" shows for two seconds: every text the button shows is recorded, so a slow
    # machine cannot miss it.
    client_id.evaluate(
        """button => {
            window.shown = [];
            new MutationObserver(() => window.shown.push(button.textContent))
                .observe(button, {childList: true, characterData: true, subtree: true});
        }"""
    )
    assert copied(page, "client-id kopieren") == rp_client.client_id
    expect(client_id).to_have_text("Kopieren")  # and back, a moment later
    assert page.evaluate("window.shown") == ["Kopiert", "Kopieren"]

    # Where the page has no Clipboard API (an insecure origin), the text is selected for the
    # person to copy, and the button says how.
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})")
    page.reload()
    client_id.click()
    expect(client_id).to_have_text("Drücken Sie Strg+C")
    assert page.evaluate("getSelection().toString()") == rp_client.client_id
