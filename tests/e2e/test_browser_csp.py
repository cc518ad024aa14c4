"""Chromium walks the main pages under the Content-Security-Policy and meets no violation.

Every ``securitypolicyviolation`` event and every console message about the policy is recorded
across navigations: sign-in, the second-factor pages (authenticator app, a passkey enrolled with a
virtual authenticator), consent, connected apps, and the admin's client page with its copy buttons.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from oidc_provider.models import Client
from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import (
    add_virtual_authenticator,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    copied,
)

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(`${location.pathname}: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def client_pk(rp_client) -> int:
    return Client.objects.get(client_id=rp_client.client_id).pk


@pytest.fixture
def watched(passkey_origin, issuer, user, root, rp_client, client_pk) -> Iterator[tuple[Page, list[str]]]:
    """A page with a virtual authenticator, and the list every CSP violation is added to."""
    violations: list[str] = []
    with chromium_context() as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=issuer)
        context.expose_function("reportCspViolation", lambda text: violations.append(text))
        context.add_init_script(REPORT_VIOLATIONS)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        add_virtual_authenticator(context, page)
        yield page, violations


def test_browser_csp_main_pages_have_no_violations(watched, issuer, rp_client, client_pk):
    page, violations = watched

    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    page.goto(f"{issuer}/accounts/mfa/totp/")
    expect(page.locator("svg").first).to_be_visible()
    page.goto(f"{issuer}/accounts/mfa/passkeys/add/")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    page.goto(authorization_request(f"{issuer}/o/authorize/", rp_client).url)
    expect(page.get_by_role("button").first).to_be_visible()
    page.goto(f"{issuer}/account/apps/")
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{issuer}/admin/")
    chromium_sign_in(page, username="root", password=STAFF_PASSWORD)
    page.goto(f"{issuer}/admin/oidc_provider/client/{client_pk}/change/")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    page.goto(f"{issuer}/admin/oidc_provider/client/add/")
    page.get_by_role("link", name="Web server app").click()
    # The admin's add form focuses its first field once loaded (change_form.js): type after that,
    # or the focus moves into Name halfway through filling another field.
    page.wait_for_load_state("load")
    page.get_by_role("textbox", name="Name:").fill("Team wiki")
    page.get_by_role("textbox", name="Redirect URIs:").fill("https://wiki.example.com/callback")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Team wiki is ready")).to_be_visible()
    assert "OIDC_CLIENT_SECRET=" in copied(page, "Copy all settings")

    assert violations == []

    # The policy is enforced and the watch sees it: an injected inline script is refused.
    page.evaluate("document.body.append(Object.assign(document.createElement('script'), {text: '1'}))")
    page.wait_for_timeout(300)
    assert any("script-src" in violation for violation in violations), violations
