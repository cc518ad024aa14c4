"""A session that gains a second factor gets a new key (session fixation)."""

import re
from base64 import b32decode

from django.conf import settings
from django.test import Client as BrowserClient

from tests.accounts.conftest import totp_code

ENROLL = "/accounts/mfa/totp/"


def session_key(browser) -> str:
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def signed_in_with(key: str) -> bool:
    """Return whether a browser holding only the session key ``key`` is signed in."""
    browser = BrowserClient()
    browser.cookies[settings.SESSION_COOKIE_NAME] = key
    # The account page redirects anyone not signed in to the login page.
    return browser.get("/accounts/").status_code == 200


def test_totp_enroll_gives_the_session_a_new_key(logged_in):
    before = session_key(logged_in)
    page = logged_in.get(ENROLL).content.decode()
    typed = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    key = b32decode(typed + "=" * (-len(typed) % 8))
    assert logged_in.post(ENROLL, {"code": totp_code(key)}).status_code == 302

    after = session_key(logged_in)
    assert after != before
    assert signed_in_with(after)
    # Whoever planted or read the old key does not share the stronger session.
    assert not signed_in_with(before)


def test_second_factor_step_up_gives_the_session_a_new_key(logged_in, totp_device):
    before = session_key(logged_in)
    response = logged_in.post(
        "/accounts/mfa/authenticate/", {"method": "totp", "code": totp_code(totp_device.bin_key)}
    )
    assert response.status_code == 302

    after = session_key(logged_in)
    assert after != before
    assert signed_in_with(after)
    assert not signed_in_with(before)
