"""Recovery codes: ten single-use codes, shown once, replaceable."""

import re

from accounts.authentication import SESSION_KEY
from tests.accounts.conftest import log_in_with_password

STEP = "/accounts/mfa/authenticate/"


def use_recovery_code(browser, code: str):
    log_in_with_password(browser)
    return browser.post(STEP, {"method": "recovery", "code": code, "next": "/accounts/"})


def test_recovery_code_signs_in_once(browser, client, recovery_codes):
    response = use_recovery_code(browser, recovery_codes[0])
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    # RFC 8176 §2 "otp": a recovery code is a one-time password.
    assert browser.session[SESSION_KEY]["amr"] == ["pwd", "otp", "mfa"]

    response = use_recovery_code(client, recovery_codes[0])
    assert response.status_code == 200
    assert b"That code is not correct" in response.content
    assert client.get("/accounts/").status_code == 302


def test_recovery_code_accepts_upper_case_and_spaces(browser, recovery_codes):
    code = recovery_codes[1]
    response = use_recovery_code(browser, f" {code[:4].upper()} {code[4:].upper()} ")
    assert response["Location"] == "/accounts/"


def test_recovery_codes_count_goes_down(browser, recovery_codes):
    use_recovery_code(browser, recovery_codes[2])
    assert '<strong id="recovery-count">9</strong>' in browser.get("/accounts/mfa/").content.decode()


def test_recovery_codes_regenerate_replaces_old_codes(mfa_logged_in, client, recovery_codes):
    response = mfa_logged_in.post("/accounts/mfa/recovery-codes/")
    assert response.status_code == 302
    page = mfa_logged_in.get(response["Location"]).content.decode()
    new_codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)
    assert len(new_codes) == 10 and not set(new_codes) & set(recovery_codes)

    assert use_recovery_code(client, recovery_codes[0]).status_code == 200
    assert use_recovery_code(client, new_codes[0])["Location"] == "/accounts/"


def test_recovery_codes_page_shows_nothing_twice(mfa_logged_in, recovery_codes):
    response = mfa_logged_in.get("/accounts/mfa/recovery-codes/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/mfa/"


def test_recovery_codes_need_an_authenticator(logged_in):
    response = logged_in.post("/accounts/mfa/recovery-codes/")
    assert response["Location"] == "/accounts/mfa/"
    assert logged_in.get("/accounts/mfa/recovery-codes/")["Location"] == "/accounts/mfa/"
