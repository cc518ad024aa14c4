"""Two-step sign-in in headless Chromium: enroll an authenticator app, sign in with it, use a
recovery code once; and an accessibility smoke check of the login, second-factor and
enrollment pages.
"""

from base64 import b32decode
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.accounts.conftest import totp_code
from tests.e2e.conftest import (
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
def page(issuer, user, rp_client, second_rp) -> Iterator[Page]:
    """A fresh Chromium page; every database fixture is set up before Playwright's loop starts."""
    with chromium_context() as context:
        yield context.new_page()


def enroll_totp(page: Page, issuer: str) -> tuple[bytes, list[str]]:
    """Set up an authenticator app from the page's manual key; return the key and recovery codes."""
    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    page.wait_for_url(f"{issuer}/accounts/")
    page.get_by_role("link", name="Two-step sign-in").click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    manual = page.locator("#manual-key").inner_text().replace(" ", "")
    key = b32decode(manual + "=" * (-len(manual) % 8))
    page.get_by_label("Code from your authenticator app").fill(totp_code(key))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them, continue").click()
    return key, codes


def test_browser_mfa_totp_and_recovery_code_sign_in(page, issuer, metadata, rp_client, second_rp):
    key, codes = enroll_totp(page, issuer)
    chromium_sign_out(page)

    # Password, then the authenticator app, through an authorization request.
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    chromium_sign_in(page)
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    # The enrollment used this step's code; the app's next one is accepted (RFC 6238 §5.2 window).
    page.get_by_label("Code from your authenticator app").fill(totp_code(key, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == request.state
    tokens = redeem_code(metadata["token_endpoint"], rp_client, callback["code"], request.verifier)
    claims = claims_of(tokens["id_token"])
    assert "otp" in claims["amr"] and "mfa" in claims["amr"]
    assert claims["acr"] == "mfa"

    # A recovery code instead of the app, for another RP (so consent is asked again): works once.
    page.goto(f"{issuer}/accounts/")
    chromium_sign_out(page)
    request = authorization_request(metadata["authorization_endpoint"], second_rp)
    page.goto(request.url)
    chromium_sign_in(page)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    code = query_of(page.url)["code"]
    claims = claims_of(redeem_code(metadata["token_endpoint"], second_rp, code, request.verifier)["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]

    page.goto(f"{issuer}/accounts/")
    chromium_sign_out(page)
    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not correct. Check it and try again.")
    page.goto(f"{issuer}/accounts/")
    assert "/accounts/login/" in page.url


# --- accessibility smoke check ----------------------------------------------------------------

FOCUSABLE_IN_DOM_ORDER = """() => {
  const selector = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), '
    + 'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  return [...document.querySelectorAll(selector)]
    .filter(el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
    .map((el, i) => { el.dataset.a11yOrder = String(i); return i; });
}"""

UNLABELLED_INPUTS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""

# WCAG 2.x relative luminance and contrast ratio, on the computed colours of the element and of
# the first ancestor with an opaque background.
LOW_CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const selector = 'p, label, li, h1, h2, button, a[href], .small';
  const targets = [document.body, ...document.querySelectorAll(selector)];
  return targets.filter(el => el.getClientRects().length > 0 && el.textContent.trim()).map(el => {
    const [l1, l2] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))].sort((a, b) => b - a);
    return {el: el.outerHTML.slice(0, 80), ratio: (l1 + 0.05) / (l2 + 0.05)};
  }).filter(item => item.ratio < 4.5);
}"""


def check_accessibility(page: Page) -> None:
    """Every input labelled, Tab follows the DOM order, text contrast at least 4.5:1 (WCAG AA)."""
    assert page.evaluate(UNLABELLED_INPUTS) == []
    assert page.evaluate(LOW_CONTRAST) == []
    order = page.evaluate(FOCUSABLE_IN_DOM_ORDER)
    assert len(order) >= 3, "the skip link, a field and a button at least"
    page.locator('[data-a11y-order="0"]').focus()
    seen = [page.evaluate("() => document.activeElement.dataset.a11yOrder")]
    # A date input has one Tab stop per part (day, month, year): count each element once.
    for _ in range(3 * len(order)):
        if len(seen) == len(order):
            break
        page.keyboard.press("Tab")
        current = page.evaluate("() => document.activeElement.dataset.a11yOrder")
        if current != seen[-1]:
            seen.append(current)
    assert seen == [str(i) for i in order]


def test_browser_mfa_pages_pass_accessibility_smoke_check(page, issuer):
    page.goto(f"{issuer}/accounts/login/")
    check_accessibility(page)
    chromium_sign_in(page)
    page.goto(f"{issuer}/accounts/mfa/totp/")
    check_accessibility(page)
    manual = page.locator("#manual-key").inner_text().replace(" ", "")
    key = b32decode(manual + "=" * (-len(manual) % 8))
    page.get_by_label("Code from your authenticator app").fill(totp_code(key))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("link", name="I have saved them, continue").click()
    chromium_sign_out(page)
    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    check_accessibility(page)
    page.get_by_role("link", name="Use a recovery code").click()
    # The click starts a navigation; check the page it lands on, not the one it leaves.
    expect(page.get_by_text("Enter one of the recovery codes you saved.")).to_be_visible()
    check_accessibility(page)


def test_browser_account_and_consent_pages_pass_accessibility_smoke_check(page, issuer, metadata, rp_client):
    page.goto(f"{issuer}/accounts/password/reset/")
    check_accessibility(page)
    page.goto(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    for path in (
        "/accounts/",
        "/accounts/profile/",
        "/accounts/password/",
        "/accounts/mfa/",
        "/account/apps/",
    ):
        page.goto(f"{issuer}{path}")
        assert page.get_by_role("heading", level=1).is_visible(), path
        check_accessibility(page)
    request = authorization_request(metadata["authorization_endpoint"], rp_client)
    page.goto(request.url)
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    check_accessibility(page)
