"""Authenticator app enrollment, and the self-service list of devices."""

import re
from urllib.parse import urlsplit

import pytest

from accounts.authentication import SESSION_KEY
from accounts.mfa.models import RecoveryCodeDevice, TOTPAuthenticator
from tests.accounts.conftest import manual_key, totp_code
from tests.conftest import PASSWORD

ENROLL = "/accounts/mfa/totp/"


def test_totp_enroll_shows_qr_code_and_manual_key(logged_in):
    page = logged_in.get(ENROLL).content.decode()
    assert "<svg" in page and 'aria-label="QR code for your authenticator app"' in page
    key = manual_key(page)
    assert len(key) == 20
    # The key is not in use until confirmed.
    device = TOTPAuthenticator.objects.get()
    assert device.bin_key == key and not device.confirmed


def test_totp_enroll_keeps_key_on_reload(logged_in):
    assert manual_key(logged_in.get(ENROLL).content.decode()) == manual_key(
        logged_in.get(ENROLL).content.decode()
    )


def test_totp_enroll_refuses_wrong_code(logged_in):
    key = manual_key(logged_in.get(ENROLL).content.decode())
    wrong = f"{(int(totp_code(key)) + 1) % 1_000_000:06d}"
    response = logged_in.post(ENROLL, {"code": wrong})
    assert response.status_code == 200
    assert b"That code is not correct" in response.content
    assert not TOTPAuthenticator.objects.filter(confirmed=True).exists()


def test_totp_enroll_confirms_with_valid_code_and_shows_recovery_codes_once(logged_in, user):
    key = manual_key(logged_in.get(ENROLL).content.decode())
    response = logged_in.post(ENROLL, {"code": totp_code(key)})
    assert response.status_code == 302
    assert TOTPAuthenticator.objects.get(user=user).confirmed
    page = logged_in.get(response["Location"])
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page.content.decode())
    assert len(codes) == 10
    assert b"This is the only time they are shown" in page.content
    # Shown once: the page does not show them again.
    again = logged_in.get(response["Location"])
    assert again.status_code == 302 and urlsplit(again["Location"]).path == "/accounts/"
    # The code just typed proved the app: the session now counts it (RFC 8176 "otp").
    assert logged_in.session[SESSION_KEY]["amr"] == ["pwd", "otp", "mfa"]


def test_totp_enroll_requires_login(browser, db):
    response = browser.get(ENROLL)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_totp_enroll_with_an_app_already_set_up_goes_back(logged_in, totp_device):
    response = logged_in.get(ENROLL)
    assert response.status_code == 302
    assert TOTPAuthenticator.objects.count() == 1


def test_mfa_index_lists_devices_and_recovery_codes_left(logged_in, recovery_codes):
    page = logged_in.get("/accounts/mfa/").content.decode()
    assert "Phone" in page
    assert '<strong id="recovery-count">10</strong> unused recovery codes' in page
    assert "Set up an authenticator app" not in page


def test_mfa_index_linked_from_account_page(logged_in):
    assert b'href="/accounts/mfa/"' in logged_in.get("/accounts/").content


def test_mfa_device_rename(mfa_logged_in, totp_device):
    response = mfa_logged_in.post(
        f"/accounts/mfa/devices/totp/{totp_device.pk}/rename/", {"name": "Work phone"}
    )
    assert response.status_code == 302
    assert "Work phone" in mfa_logged_in.get("/accounts/mfa/").content.decode()


def test_mfa_device_of_another_user_is_not_found(logged_in, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    device = TOTPAuthenticator.objects.create(user=other, name="Bob's", confirmed=True)
    assert logged_in.post(f"/accounts/mfa/devices/totp/{device.pk}/rename/", {"name": "x"}).status_code == 404
    assert logged_in.post(f"/accounts/mfa/devices/totp/{device.pk}/remove/").status_code == 404
    assert TOTPAuthenticator.objects.get(pk=device.pk).name == "Bob's"


@pytest.mark.parametrize("password", ["", "wrong password"])
def test_mfa_remove_last_factor_without_password_fails(mfa_logged_in, totp_device, recovery_codes, password):
    url = f"/accounts/mfa/devices/totp/{totp_device.pk}/remove/"
    assert b"Your password" in mfa_logged_in.get(url).content
    response = mfa_logged_in.post(url, {"password": password})
    assert response.status_code == 200
    assert b"That is not your current password." in response.content
    assert TOTPAuthenticator.objects.filter(pk=totp_device.pk).exists()


def test_mfa_remove_last_factor_with_password_removes_it_and_recovery_codes(
    mfa_logged_in, totp_device, recovery_codes
):
    response = mfa_logged_in.post(
        f"/accounts/mfa/devices/totp/{totp_device.pk}/remove/", {"password": PASSWORD}
    )
    assert response.status_code == 302
    assert not TOTPAuthenticator.objects.exists()
    assert not RecoveryCodeDevice.objects.exists()
    # Back to a password-only login.
    mfa_logged_in.post("/accounts/logout/")
    response = mfa_logged_in.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response["Location"] == "/accounts/"
