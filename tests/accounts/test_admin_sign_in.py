"""The admin opens only through Porchlight's own sign-in: password or passkey, second factor, lockout.

Each attack here worked against Django's stock ``/admin/login/`` before the fix: it checked the
password itself, recorded no failure, skipped the second factor, and left a session that
``/o/authorize/`` accepted as a password sign-in.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as BrowserClient

from accounts.authentication import SESSION_KEY
from accounts.mfa.models import TOTPAuthenticator
from accounts.models import LoginFailure
from tests.accounts.conftest import totp_code
from tests.conftest import STAFF_PASSWORD, pkce_pair, sign_in

ADMIN = "/admin/"
STEP = "/accounts/mfa/authenticate/"
ENROLL = "/accounts/mfa/totp/"


def admin_opens(browser) -> bool:
    response = browser.get(ADMIN)
    return response.status_code == 200 and b"administration" in response.content


def follow_to(browser, url: str) -> str:
    """Follow redirects from ``url``; return the path and query of the page they end on."""
    response = browser.get(url, follow=True)
    path, query = response.request["PATH_INFO"], response.request["QUERY_STRING"]
    return f"{path}?{query}" if query else path


@pytest.fixture
def staff_totp(root) -> TOTPAuthenticator:
    return TOTPAuthenticator.objects.create(user=root, name="Phone", confirmed=True)


def test_admin_login_form_does_not_accept_a_password(root):
    browser = BrowserClient()
    response = browser.post("/admin/login/?next=/admin/", {"username": "root", "password": STAFF_PASSWORD})
    # Sent to Porchlight's sign-in page; the password posted here was never checked.
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/admin/"]
    assert "_auth_user_id" not in browser.session
    assert not admin_opens(browser)


def test_admin_login_page_cannot_bypass_the_lockout(root, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5}
    attacker = BrowserClient()
    for _ in range(8):
        attacker.post("/admin/login/", {"username": "root", "password": "wrong-password"})
        attacker.post("/accounts/login/", {"username": "root", "password": "wrong-password"})
    # Only the sign-in page counted: the account is locked and the right password is refused...
    assert LoginFailure.objects.get(scope=LoginFailure.Scope.PASSWORD, key="root").locked_until
    refused = attacker.post("/accounts/login/", {"username": "root", "password": STAFF_PASSWORD})
    assert refused.status_code == 200 and b"Too many failed attempts" in refused.content
    # ...and the admin's old login path lets no one in either.
    attacker.post("/admin/login/", {"username": "root", "password": STAFF_PASSWORD})
    assert not admin_opens(attacker)


def test_admin_is_unreachable_with_the_password_alone_for_staff_with_a_second_factor(root, staff_totp):
    browser = BrowserClient()
    response = browser.post("/accounts/login/", {"username": "root", "password": STAFF_PASSWORD})
    assert urlsplit(response["Location"]).path == STEP
    # Half-way through the sign-in is not signed in.
    assert not admin_opens(browser)
    assert urlsplit(follow_to(browser, ADMIN)).path == "/accounts/login/"
    browser.post(STEP, {"method": "totp", "code": totp_code(staff_totp.bin_key), "next": ADMIN})
    assert browser.session[SESSION_KEY]["amr"] == ["pwd", "otp", "mfa"]
    assert admin_opens(browser)


def test_admin_steps_up_a_password_session_once_the_user_has_a_factor(staff, root):
    # Signed in with a password while the account had no factor; one is added later (by
    # another session, or staff): the admin now asks for it.
    assert admin_opens(staff)
    device = TOTPAuthenticator.objects.create(user=root, name="Phone", confirmed=True)
    assert not admin_opens(staff)
    assert urlsplit(follow_to(staff, ADMIN)).path == STEP
    staff.post(STEP, {"method": "totp", "code": totp_code(device.bin_key), "next": ADMIN})
    assert admin_opens(staff)


def test_admin_sends_staff_without_a_factor_to_enrollment_when_staff_mfa_is_required(root, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "STAFF_REQUIRE_MFA": True}
    browser = sign_in(BrowserClient(), "root", STAFF_PASSWORD)
    assert not admin_opens(browser)
    landed = follow_to(browser, ADMIN)
    assert urlsplit(landed).path == ENROLL
    assert parse_qs(urlsplit(landed).query) == {"next": [ADMIN], "required": ["1"]}
    page = browser.get(landed)
    device = TOTPAuthenticator.objects.get(user=root, confirmed=False)
    assert page.status_code == 200
    browser.post(ENROLL, {"code": totp_code(device.bin_key), "next": ADMIN})
    assert admin_opens(browser)


def test_admin_opens_for_password_staff_when_staff_mfa_is_not_required(root, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "STAFF_REQUIRE_MFA": False}
    assert admin_opens(sign_in(BrowserClient(), "root", STAFF_PASSWORD))


def test_session_from_another_login_path_is_signed_out_for_admin_and_authorize(root, rp):
    # A session made by Django's login() anywhere but Porchlight's flow carries no record of how
    # the user authenticated; it must not count as a sign-in.
    browser = BrowserClient()
    browser.force_login(root)
    assert not admin_opens(browser)
    _, challenge = pkce_pair()
    response = browser.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_admin_tells_a_signed_in_non_staff_user_they_have_no_access(logged_in):
    response = logged_in.get(ADMIN, follow=True)
    assert response.status_code == 403
    assert b"not a staff account" in response.content


def test_admin_sign_out_ends_the_porchlight_session(staff):
    response = staff.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in staff.session
    assert not admin_opens(staff)


def test_admin_password_change_goes_to_the_account_page(staff):
    response = staff.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
