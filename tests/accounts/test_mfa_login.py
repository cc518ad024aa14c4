"""Login with a second factor: password first, then an authenticator code or a recovery code."""

import time
from urllib.parse import urlsplit

from accounts.authentication import SESSION_KEY
from tests.accounts.conftest import STEP, log_in_with_password, second_factor, totp_code
from tests.conftest import authorize, exchange, pkce_pair, query_of, validate_id_token


def test_login_with_device_asks_for_second_factor_before_signing_in(browser, totp_device):
    response = log_in_with_password(browser)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == STEP
    # The password alone signs no one in.
    assert browser.get("/accounts/").status_code == 302
    assert SESSION_KEY not in browser.session
    page = browser.get(response["Location"])
    assert page.status_code == 200
    assert b"Code from your authenticator app" in page.content


def test_login_without_device_is_one_step(browser, user):
    response = log_in_with_password(browser)
    assert response["Location"] == "/accounts/"
    assert browser.session[SESSION_KEY]["amr"] == ["pwd"]


def test_login_password_and_totp_records_otp_and_mfa(browser, totp_device):
    log_in_with_password(browser)
    response = second_factor(browser, totp_code(totp_device.bin_key))
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert browser.get("/accounts/").status_code == 200
    # RFC 8176 §2: pwd + otp, and mfa because two factors were used.
    assert browser.session[SESSION_KEY]["amr"] == ["pwd", "otp", "mfa"]
    assert browser.session["otp_device_id"] == totp_device.persistent_id


def test_login_wrong_totp_code_is_refused(browser, totp_device):
    log_in_with_password(browser)
    good = totp_code(totp_device.bin_key)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = second_factor(browser, wrong)
    assert response.status_code == 200
    assert b"That code is not correct" in response.content
    assert browser.get("/accounts/").status_code == 302


def test_login_totp_code_cannot_be_used_twice(browser, client, totp_device):
    code = totp_code(totp_device.bin_key)
    log_in_with_password(browser)
    assert second_factor(browser, code).status_code == 302
    log_in_with_password(client)
    response = second_factor(client, code)
    assert response.status_code == 200
    assert b"That code is not correct" in response.content


def test_login_second_factor_failures_lock_the_account(browser, client, totp_device, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "LOGIN_MAX_FAILURES_PER_ACCOUNT": 3}
    log_in_with_password(browser)
    good = totp_code(totp_device.bin_key)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(3):
        response = second_factor(browser, wrong)
    assert b"Too many failed attempts" in response.content
    # While locked even the right code is refused, and the password step too.
    response = second_factor(browser, good)
    assert response.status_code == 200
    assert b"Too many failed attempts" in response.content
    assert browser.get("/accounts/").status_code == 302
    response = log_in_with_password(client)
    assert response.status_code == 200
    assert b"Too many failed attempts" in response.content


def test_login_pending_second_factor_expires(browser, totp_device, monkeypatch):
    log_in_with_password(browser)
    later = time.time() + 6 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = second_factor(browser, "123456")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_login_second_factor_page_without_pending_login_goes_to_login(browser, db):
    response = browser.get(STEP)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_login_second_factor_offers_recovery_code(browser, recovery_codes):
    log_in_with_password(browser)
    page = browser.get(STEP).content.decode()
    assert "Use a recovery code" in page
    page = browser.get(STEP, {"method": "recovery"}).content.decode()
    assert "Recovery code" in page and "Use your authenticator app" in page


def test_login_second_factor_refuses_offsite_next(browser, totp_device):
    log_in_with_password(browser)
    response = second_factor(browser, totp_code(totp_device.bin_key), next_url="https://evil.example/")
    assert response["Location"] == "/accounts/"


def authorization_params(rp) -> tuple[dict, str]:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid offline_access",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return params, verifier


def test_login_through_authorization_request_gives_mfa_id_token(browser, client, rp, totp_device):
    params, verifier = authorization_params(rp)
    response = browser.get("/o/authorize/", params)
    login_url = response["Location"]
    assert urlsplit(login_url).path == "/accounts/login/"
    response = log_in_with_password(browser, next_url=query_of(login_url)["next"])
    assert urlsplit(response["Location"]).path == STEP
    response = browser.post(response["Location"], {"method": "totp", "code": totp_code(totp_device.bin_key)})
    assert urlsplit(response["Location"]).path == "/o/authorize/"
    consent = browser.get(response["Location"])
    response = browser.post(
        "/o/authorize/consent/", {"request_id": consent.context["request_id"], "allow": "1"}
    )
    code = query_of(response["Location"])["code"]
    token = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    ).json()
    claims = validate_id_token(token["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "mfa"


def test_login_refreshed_id_token_keeps_auth_time_amr_and_acr(mfa_logged_in, client, rp):
    body = exchange(client, rp, authorize(mfa_logged_in, rp)).json()
    jwks = client.get("/o/jwks/").json()
    first = validate_id_token(body["id_token"], jwks=jwks, audience=rp.client_id)
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    ).json()
    again = validate_id_token(refreshed["id_token"], jwks=jwks, audience=rp.client_id)
    # OIDC Core 1.0 §12.2: the refreshed ID token describes the same authentication.
    assert again["auth_time"] == first["auth_time"]
    assert again["amr"] == first["amr"] == ["pwd", "otp", "mfa"]
    assert again["acr"] == first["acr"] == "mfa"
