"""A stolen session must not become a stolen account.

Whoever holds a signed-in session cookie (stolen, or a minute at an unlocked browser) used to be
able to add their own authenticator app or passkey, be shown the recovery codes, and - since
enrolling moved ``auth_time`` to "now" - open the data export and account deletion without the
password. Every change to how one signs in now asks for a fresh sign-in (password, and the second
factor when the account has one) unless the session signed in that way within
``PORCHLIGHT_RECENT_AUTH_MAX_AGE``; enrolling never moves ``auth_time``.
"""

import json
import re

import pytest
from django.core import mail
from django_otp_webauthn.models import WebAuthnCredential

from accounts.authentication import SESSION_KEY
from accounts.mfa import totp
from accounts.mfa.models import RecoveryCodeDevice, TOTPAuthenticator
from accounts.mfa.recovery_codes import recovery_codes_remaining
from audit.models import AuditEvent
from tests.accounts.conftest import age_sign_in, log_in_with_password, manual_key, totp_code
from tests.conftest import PASSWORD, authorize, exchange, validate_id_token
from tests.webauthn_authenticator import SoftAuthenticator

# Older than PORCHLIGHT_RECENT_AUTH_MAX_AGE (300 s): a session left open since the morning.
STALE = 3600
TOTP_PAGE = "/accounts/mfa/totp/"
BEGIN = "/accounts/mfa/passkeys/register/begin/"
COMPLETE = "/accounts/mfa/passkeys/register/complete/"
# The origin passkeys belong to for the test issuer http://127.0.0.1:8000 (settings.py).
ORIGIN = "http://localhost:8000"


def asks_to_sign_in(response, next_path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"/accounts/login/?next={next_path}"


def register_passkey(browser, authenticator: SoftAuthenticator):
    """Run the registration ceremony as the page's script does; return the last response."""
    begin = browser.post(BEGIN, data="{}", content_type="application/json")
    if begin.status_code != 200:
        return begin
    credential = authenticator.create(begin.json(), origin=ORIGIN)
    return browser.post(COMPLETE, data=json.dumps(credential), content_type="application/json")


def export_page_opens(browser) -> bool:
    return browser.get("/accounts/data/").status_code == 200


# --- the attack, with a session older than the limit ----------------------------------------


def test_stolen_session_cannot_add_an_authenticator_app(logged_in, user):
    age_sign_in(logged_in, STALE)
    page = logged_in.get(TOTP_PAGE)
    assert asks_to_sign_in(page, TOTP_PAGE), "the enrolment page must not show a key to a stale session"
    # Even an attacker who learnt the pending key elsewhere cannot confirm it.
    key = (
        manual_key(page.content.decode())
        if page.status_code == 200
        else totp.totp_device_pending(user).bin_key
    )
    response = logged_in.post(TOTP_PAGE, {"code": totp_code(key)})
    assert asks_to_sign_in(response, TOTP_PAGE)
    assert not TOTPAuthenticator.objects.filter(user=user, confirmed=True).exists()
    assert not RecoveryCodeDevice.objects.filter(user=user).exists()
    # Nothing moved auth_time: the export still asks for the password.
    assert not export_page_opens(logged_in)


def test_stolen_session_cannot_register_a_passkey(logged_in, user):
    age_sign_in(logged_in, STALE)
    response = register_passkey(logged_in, SoftAuthenticator())
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    # Completing without a begun ceremony is refused the same way.
    forged = SoftAuthenticator().create({"challenge": "x", "rp": {"id": "localhost"}}, origin=ORIGIN)
    late = logged_in.post(COMPLETE, data=json.dumps(forged), content_type="application/json")
    assert late.status_code == 403
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not export_page_opens(logged_in)
    assert logged_in.get("/accounts/delete/").status_code != 200


def test_stolen_session_cannot_see_or_regenerate_recovery_codes(mfa_logged_in, user, recovery_codes):
    age_sign_in(mfa_logged_in, STALE)
    assert asks_to_sign_in(
        mfa_logged_in.post("/accounts/mfa/recovery-codes/"), "/accounts/mfa/recovery-codes/"
    )
    assert asks_to_sign_in(
        mfa_logged_in.get("/accounts/mfa/recovery-codes/"), "/accounts/mfa/recovery-codes/"
    )
    assert recovery_codes_remaining(user) == len(recovery_codes)


def test_stolen_session_cannot_rename_or_remove_a_device(mfa_logged_in, user, totp_device, passkey):
    rename = f"/accounts/mfa/devices/totp/{totp_device.pk}/rename/"
    remove = f"/accounts/mfa/devices/passkey/{passkey.pk}/remove/"
    age_sign_in(mfa_logged_in, STALE)
    # A rename is a POST from the device list: after signing in the user lands on that list.
    assert asks_to_sign_in(mfa_logged_in.post(rename, {"name": "Attacker"}), "/accounts/mfa/")
    assert asks_to_sign_in(mfa_logged_in.get(remove), remove)
    assert asks_to_sign_in(mfa_logged_in.post(remove), remove)
    totp_device.refresh_from_db()
    assert totp_device.name == "Phone"
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_stolen_session_cannot_change_the_password(logged_in, user):
    age_sign_in(logged_in, STALE)
    assert asks_to_sign_in(logged_in.get("/accounts/password/"), "/accounts/password/")
    response = logged_in.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "attacker-chose-this-1",
            "new_password2": "attacker-chose-this-1",
        },
    )
    assert asks_to_sign_in(response, "/accounts/password/")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_stolen_session_cannot_change_the_email_address(logged_in, user):
    age_sign_in(logged_in, STALE)
    response = logged_in.post("/accounts/profile/", {"email": "attacker@example.net", "first_name": "Alice"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "sign in again first" in page
    # Signing in again returns to the profile's contact section, where the address is.
    assert 'href="/accounts/login/?next=%2Faccounts%2Fprofile%2F%23section-contact"' in page
    # Nothing typed is lost: the page shows it again to correct.
    assert 'value="attacker@example.net"' in page
    user.refresh_from_db()
    assert user.email == "alice@example.com" and user.email_verified


def test_password_alone_is_not_a_fresh_sign_in_once_the_account_has_a_second_factor(logged_in, user, passkey):
    # alice signed in with her password; a passkey was then added from another of her sessions.
    assert asks_to_sign_in(logged_in.get(TOTP_PAGE), TOTP_PAGE)


# --- still possible right after a real sign-in ------------------------------------------------


def test_authenticator_app_added_after_signing_in_again(logged_in, user, django_capture_on_commit_callbacks):
    age_sign_in(logged_in, STALE)
    response = logged_in.get(TOTP_PAGE)
    assert asks_to_sign_in(response, TOTP_PAGE)
    again = logged_in.post(
        response["Location"], {"username": "alice", "password": PASSWORD, "next": TOTP_PAGE}
    )
    assert again["Location"] == TOTP_PAGE
    signed_in_at = logged_in.session[SESSION_KEY]["auth_time"]
    key = manual_key(logged_in.get(TOTP_PAGE).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        done = logged_in.post(TOTP_PAGE, {"code": totp_code(key)})
    assert done.status_code == 302 and done["Location"].startswith("/accounts/mfa/recovery-codes/")
    codes = re.findall(
        r"<li><code>([a-z2-7-]+)</code></li>", logged_in.get(done["Location"]).content.decode()
    )
    assert len(codes) == 10
    # The owner is told, with the way to their sessions.
    subjects = [message.subject for message in mail.outbox]
    assert "Porchlight: an authenticator app was added to your account" in subjects
    notice = next(message for message in mail.outbox if "authenticator app was added" in message.subject)
    assert notice.to == ["alice@example.com"]
    assert "If it wasn't you" in notice.body and "http://127.0.0.1:8000/accounts/" in notice.body
    assert AuditEvent.objects.filter(action="mfa.device_add", target="alice").exists()
    # Enrolling records the factor in the session but is no sign-in: auth_time stays.
    context = logged_in.session[SESSION_KEY]
    assert context["auth_time"] == signed_in_at
    assert {"pwd", "otp", "mfa"} <= set(context["amr"])


def test_passkey_added_after_signing_in_again(logged_in, user, django_capture_on_commit_callbacks):
    age_sign_in(logged_in, STALE)
    assert register_passkey(logged_in, SoftAuthenticator()).status_code == 403
    log_in_with_password(logged_in)
    signed_in_at = logged_in.session[SESSION_KEY]["auth_time"]
    with django_capture_on_commit_callbacks(execute=True):
        response = register_passkey(logged_in, SoftAuthenticator())
    assert response.status_code == 200, response.content
    assert WebAuthnCredential.objects.filter(user=user, confirmed=True).count() == 1
    assert any(
        message.subject == "Porchlight: a passkey was added to your account" for message in mail.outbox
    )
    context = logged_in.session[SESSION_KEY]
    assert context["auth_time"] == signed_in_at and "hwk" in context["amr"] and "mfa" in context["amr"]


def test_enrolment_never_moves_auth_time(logged_in, user, client, rp):
    age_sign_in(logged_in, 200)
    signed_in_at = logged_in.session[SESSION_KEY]["auth_time"]
    key = manual_key(logged_in.get(TOTP_PAGE).content.decode())
    assert logged_in.post(TOTP_PAGE, {"code": totp_code(key)}).status_code == 302
    # Apps see when alice really signed in, and that the session now has a second factor.
    claims = validate_id_token(
        exchange(client, rp, authorize(logged_in, rp, scope="openid")).json()["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=rp.client_id,
    )
    assert claims["auth_time"] == signed_in_at and claims["acr"] == "mfa"
    # 200 s + the rest of the window later the sign-in is stale again, enrolment or not.
    age_sign_in(logged_in, 150)
    assert not export_page_opens(logged_in)


@pytest.mark.parametrize(
    ("change", "subject"),
    [
        ("rename", "Porchlight: a sign-in method on your account was renamed"),
        ("remove", "Porchlight: a sign-in method was removed from your account"),
        ("recovery_codes", "Porchlight: new recovery codes were made for your account"),
        ("password", "Porchlight: your password was changed"),
    ],
)
def test_each_change_to_signing_in_is_mailed_to_the_owner(
    mfa_logged_in,
    user,
    totp_device,
    passkey,
    recovery_codes,
    django_capture_on_commit_callbacks,
    change,
    subject,
):
    requests = {
        "rename": (f"/accounts/mfa/devices/totp/{totp_device.pk}/rename/", {"name": "Work phone"}),
        "remove": (f"/accounts/mfa/devices/passkey/{passkey.pk}/remove/", {}),
        "recovery_codes": ("/accounts/mfa/recovery-codes/", {}),
        "password": (
            "/accounts/password/",
            {
                "old_password": PASSWORD,
                "new_password1": "a-new-long-pass-2",
                "new_password2": "a-new-long-pass-2",
                "keep_session": "on",
            },
        ),
    }
    path, data = requests[change]
    with django_capture_on_commit_callbacks(execute=True):
        response = mfa_logged_in.post(path, data)
    assert response.status_code == 302 and not response["Location"].startswith("/accounts/login/")
    (notice,) = [message for message in mail.outbox if message.subject == subject]
    assert notice.to == ["alice@example.com"] and "If it wasn't you" in notice.body


def test_email_change_is_mailed_to_the_old_address(logged_in, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post("/accounts/profile/", {"email": "alice@new.example.org"})
    assert response.status_code == 302
    (notice,) = [
        m for m in mail.outbox if m.subject == "Porchlight: the e-mail address of your account was changed"
    ]
    assert notice.to == ["alice@example.com"] and "alice@new.example.org" in notice.body
    # The new address gets its verification link as before.
    assert any(m.to == ["alice@new.example.org"] for m in mail.outbox)
