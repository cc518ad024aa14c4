"""Passkeys outside the browser: listing, removal, the second-factor page, and the ceremony
endpoints' refusals. The ceremonies themselves run in Chromium (tests/e2e/test_browser_passkeys.py).
"""

import base64
import json
from urllib.parse import urlsplit

from django_otp_webauthn.models import WebAuthnCredential

from accounts.mfa.flows import passkey_amr
from accounts.mfa.passkeys import user_verified
from tests.accounts.conftest import log_in_with_password

STEP = "/accounts/mfa/authenticate/"


def test_passkeys_listed_on_mfa_page(logged_in, passkey):
    page = logged_in.get("/accounts/mfa/").content.decode()
    assert '<strong>Passkey</strong> <span class="small">passkey or security key' in page
    assert f"/accounts/mfa/devices/passkey/{passkey.pk}/remove/" in page


def test_passkeys_remove_one_of_two_factors_needs_no_password(mfa_logged_in, totp_device, passkey):
    url = f"/accounts/mfa/devices/passkey/{passkey.pk}/remove/"
    assert b"Your password" not in mfa_logged_in.get(url).content
    assert mfa_logged_in.post(url).status_code == 302
    assert not WebAuthnCredential.objects.exists()
    # The app is now the last factor: removing it takes the password.
    assert (
        b"Your password" in mfa_logged_in.get(f"/accounts/mfa/devices/totp/{totp_device.pk}/remove/").content
    )


def test_passkeys_login_with_only_a_passkey_offers_it_as_second_factor(browser, passkey):
    response = log_in_with_password(browser)
    assert urlsplit(response["Location"]).path == STEP
    page = browser.get(response["Location"]).content.decode()
    assert 'id="passkey-verification-button"' in page
    assert "/accounts/mfa/passkeys/verify/begin/" in page
    assert "Passkeys need JavaScript." in page


def test_passkeys_login_page_offers_passwordless_sign_in(browser, db):
    page = browser.get("/accounts/login/").content.decode()
    assert "/accounts/mfa/passkeys/login/begin/" in page
    assert 'id="passkey-verification-button"' in page


def test_passkeys_verify_without_pending_login_is_refused(browser, db):
    response = browser.post("/accounts/mfa/passkeys/verify/begin/", content_type="application/json")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


def test_passkeys_registration_needs_a_signed_in_user(browser, db):
    response = browser.post("/accounts/mfa/passkeys/register/begin/", content_type="application/json")
    assert response.status_code in (401, 403)


def test_passkeys_registration_options_name_the_issuer_host(logged_in):
    response = logged_in.post("/accounts/mfa/passkeys/register/begin/", content_type="application/json")
    assert response.status_code == 200
    options = response.json()
    # Browsers refuse an IP address as RP ID: a loopback issuer offers passkeys on localhost.
    assert options["rp"] == {"id": "localhost", "name": "Porchlight"}


def test_passkeys_amr_is_hwk_for_device_bound_and_swk_for_synced(passkey):
    # RFC 8176 §2: hardware- vs software-secured key.
    assert passkey_amr(passkey) == "hwk"
    passkey.backup_eligible = True
    assert passkey_amr(passkey) == "swk"


def authenticator_data(flags: int) -> str:
    raw = b"\0" * 32 + bytes([flags]) + b"\0\0\0\1"
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_passkeys_user_verified_reads_the_uv_flag():
    # WebAuthn Level 3 §6.1: bit 0 user present, bit 2 user verified.
    assert user_verified({"response": {"authenticatorData": authenticator_data(0x05)}})
    assert not user_verified({"response": {"authenticatorData": authenticator_data(0x01)}})
    assert not user_verified(json.loads("{}"))
