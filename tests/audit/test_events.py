"""Every security event is recorded once, with who, from where and with what browser, and no secret."""

import json
import re
import time

import pytest
from django.core import mail
from django.test import Client as BrowserClient
from django_otp.oath import TOTP

from accounts.mfa.models import TOTPAuthenticator
from accounts.mfa.recovery_codes import recovery_codes_generate
from audit.actions import Action
from audit.models import AuditEvent
from oidc_provider.models import Consent
from tests.conftest import PASSWORD, authorize, basic_auth, exchange

IP = "203.0.113.7"
USER_AGENT = "AuditTest/1.0 (X11; Linux)"
NEW_PASSWORD = "a brand new passphrase 2026!"


@pytest.fixture
def visitor(db) -> BrowserClient:
    """A browser with a known address and user agent."""
    return BrowserClient(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)


def totp_code(key: bytes, *, steps_ahead: int = 0) -> str:
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def only(action: str) -> AuditEvent:
    """Return the one event recorded for ``action``, failing if there are none or several."""
    found = events(action)
    assert len(found) == 1, [(event.action, event.detail) for event in AuditEvent.objects.all()]
    return found[0]


def assert_from_visitor(event: AuditEvent) -> None:
    assert event.ip == IP
    assert event.user_agent == USER_AGENT


def log_in(browser, username: str = "alice", password: str = PASSWORD):
    return browser.post("/accounts/login/", {"username": username, "password": password})


# --- signing in ---------------------------------------------------------------------------------


def test_audit_login_success_records_amr_sid_ip_and_user_agent(visitor, user):
    assert log_in(visitor).status_code == 302
    event = only(Action.LOGIN_SUCCESS)
    assert event.actor == user and event.target == "alice"
    assert event.detail["amr"] == ["pwd"] and event.detail["sid"]
    assert_from_visitor(event)


def test_audit_login_failure_records_username_as_typed_never_the_password(visitor, user):
    assert log_in(visitor, "ALICE", "wrong password 1").status_code == 200
    event = only(Action.LOGIN_FAILURE)
    assert event.target == "ALICE"
    assert event.actor is None and event.detail == {"reason": "invalid"}
    assert "wrong password 1" not in json.dumps(event.detail)
    assert_from_visitor(event)
    assert not events(Action.LOGIN_SUCCESS)


def test_audit_login_failure_of_unknown_account_is_recorded(visitor, db):
    log_in(visitor, "nobody", "guess")
    assert only(Action.LOGIN_FAILURE).target == "nobody"


def test_audit_login_refused_while_locked_is_recorded_as_locked(visitor, user, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "LOGIN_MAX_FAILURES_PER_ACCOUNT": 1}
    log_in(visitor, password="wrong")
    assert len(events(Action.LOGIN_LOCKOUT)) == 1
    log_in(visitor)
    assert [event.detail["reason"] for event in events(Action.LOGIN_FAILURE)] == ["invalid", "locked"]
    assert not events(Action.LOGIN_SUCCESS)


def test_audit_totp_login_records_failure_then_second_factor_and_sign_in(visitor, user):
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    log_in(visitor)
    assert not events(Action.LOGIN_SUCCESS), "a password alone does not sign in"
    visitor.post("/accounts/mfa/authenticate/", {"method": "totp", "code": "000000"})
    failure = only(Action.MFA_FAILURE)
    assert failure.target == "alice" and failure.detail == {"method": "totp", "reason": "invalid"}
    assert_from_visitor(failure)
    response = visitor.post(
        "/accounts/mfa/authenticate/", {"method": "totp", "code": totp_code(device.bin_key)}
    )
    assert response.status_code == 302
    used = only(Action.MFA_VERIFY)
    assert used.actor == user and used.detail["method"] == "totp" and used.detail["step_up"] is False
    assert_from_visitor(used)
    success = only(Action.LOGIN_SUCCESS)
    assert success.detail["amr"] == ["pwd", "otp", "mfa"]
    assert_from_visitor(success)


def test_audit_recovery_code_use_records_how_many_remain(visitor, user):
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    codes = recovery_codes_generate(user)
    log_in(visitor)
    visitor.post("/accounts/mfa/authenticate/", {"method": "recovery", "code": codes[0]})
    used = only(Action.RECOVERY_CODE_USE)
    assert used.detail["method"] == "recovery" and used.detail["remaining"] == len(codes) - 1
    assert_from_visitor(used)
    assert not events(Action.MFA_VERIFY)
    assert only(Action.LOGIN_SUCCESS).actor == user


# --- managing second factors ----------------------------------------------------------------------


def test_audit_totp_enrollment_records_device_and_recovery_codes(visitor, user):
    log_in(visitor)
    visitor.get("/accounts/mfa/totp/")
    device = TOTPAuthenticator.objects.get(user=user, confirmed=False)
    visitor.post("/accounts/mfa/totp/", {"code": totp_code(device.bin_key)})
    added = only(Action.MFA_DEVICE_ADD)
    assert added.actor == user and added.detail["kind"] == "totp"
    assert added.detail["device"] == device.persistent_id
    assert_from_visitor(added)
    generated = only(Action.RECOVERY_CODES_GENERATE)
    assert generated.detail == {"count": 10}
    assert_from_visitor(generated)


def test_audit_self_service_device_rename_and_remove(visitor, user):
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    log_in(visitor)
    visitor.post("/accounts/mfa/authenticate/", {"method": "totp", "code": totp_code(device.bin_key)})
    visitor.post(f"/accounts/mfa/devices/totp/{device.pk}/rename/", {"name": "Work phone"})
    renamed = only(Action.MFA_DEVICE_RENAME)
    assert renamed.detail == {"device": device.persistent_id, "from": "Phone", "to": "Work phone"}
    assert_from_visitor(renamed)
    visitor.post(f"/accounts/mfa/devices/totp/{device.pk}/remove/", {"password": PASSWORD})
    removed = only(Action.MFA_DEVICE_REMOVE)
    assert removed.actor == user and removed.detail["last"] is True
    assert_from_visitor(removed)
    assert not TOTPAuthenticator.objects.filter(pk=device.pk).exists()


# --- consent, tokens and signing out --------------------------------------------------------------


def test_audit_consent_given_and_revoked_on_connected_apps(visitor, user, rp):
    log_in(visitor)
    authorize(visitor, rp, scope="openid email")
    given = only(Action.CONSENT_GRANT)
    assert given.actor == user and given.detail["client_id"] == rp.client_id
    assert given.detail["scopes"] == ["openid", "email"]
    assert_from_visitor(given)
    consent = Consent.objects.get(user=user)
    visitor.post("/account/apps/", {"consent": consent.pk})
    revoked = only(Action.CONSENT_REVOKE)
    assert revoked.actor == user and revoked.detail["client_id"] == rp.client_id
    assert revoked.detail["scopes"] == ["openid", "email"]
    assert_from_visitor(revoked)


def test_audit_revocation_endpoint_records_which_token_and_which_client(visitor, user, rp, client):
    log_in(visitor)
    tokens = exchange(client, rp, authorize(visitor, rp)).json()
    response = visitor.post(
        "/o/revoke/",
        {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 200
    event = only(Action.TOKEN_REVOKE)
    assert event.target == "alice" and event.actor is None
    assert event.actor_label == f"client {rp.client_id}"
    assert event.detail["token"] == "refresh token" and event.detail["client_id"] == rp.client_id
    assert_from_visitor(event)


def test_audit_revocation_of_unknown_token_records_nothing(visitor, rp):
    response = visitor.post(
        "/o/revoke/", {"token": "not-a-token"}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret)
    )
    assert response.status_code == 200
    assert not events(Action.TOKEN_REVOKE)


def test_audit_logout_records_the_session_it_ended(visitor, user):
    log_in(visitor)
    sid = only(Action.LOGIN_SUCCESS).detail["sid"]
    visitor.post("/accounts/logout/")
    event = only(Action.LOGOUT)
    assert event.actor == user and event.detail == {"sid": sid}
    assert_from_visitor(event)


def test_audit_rp_initiated_logout_records_client_and_session(visitor, user, rp, client):
    log_in(visitor)
    tokens = exchange(client, rp, authorize(visitor, rp)).json()
    response = visitor.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://rp.example.com/logged-out",
            "client_id": rp.client_id,
        },
    )
    assert response.status_code == 302
    event = only(Action.LOGOUT_RP_INITIATED)
    assert event.actor == user and event.detail["client_id"] == rp.client_id
    assert event.detail["session_ended"] is True
    assert_from_visitor(event)
    assert only(Action.LOGOUT).actor == user


# --- passwords ----------------------------------------------------------------------------------


def test_audit_password_reset_request_and_completion(visitor, user):
    visitor.post("/accounts/password/reset/", {"email": "alice@example.com"})
    requested = only(Action.PASSWORD_RESET_REQUEST)
    assert requested.target == "alice@example.com" and requested.detail == {"limited": False}
    assert_from_visitor(requested)
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    page = visitor.get(link, follow=True)
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    visitor.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    completed = only(Action.PASSWORD_CHANGED)
    assert completed.target == "alice" and completed.actor_label == "password reset link"
    assert_from_visitor(completed)


def test_audit_wrong_current_password_is_recorded(visitor, user):
    log_in(visitor)
    visitor.post(
        "/accounts/password/",
        {"old_password": "not my password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    event = only(Action.PASSWORD_CHECK_FAILURE)
    assert event.actor == user
    assert_from_visitor(event)
    assert not events(Action.PASSWORD_CHANGED)


# --- no secret, ever ------------------------------------------------------------------------------


def test_audit_events_never_hold_a_secret(visitor, user, rp, client, staff):
    """Drive every flow that records events, then look for each secret used in any event."""
    secrets = [PASSWORD, NEW_PASSWORD, "wrong password 1", rp.client_secret]
    log_in(visitor, password="wrong password 1")
    log_in(visitor)
    visitor.get("/accounts/mfa/totp/")
    device = TOTPAuthenticator.objects.get(user=user, confirmed=False)
    code = totp_code(device.bin_key)
    visitor.post("/accounts/mfa/totp/", {"code": code})
    secrets += [code, device.bin_key.hex()]
    recovery = visitor.get("/accounts/mfa/recovery-codes/").context["codes"]
    secrets += recovery
    result = authorize(visitor, rp)
    tokens = exchange(client, rp, result).json()
    secrets += [
        result.code,
        result.verifier,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
    ]
    visitor.post(
        "/o/revoke/",
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    visitor.post("/accounts/logout/")
    log_in(visitor)
    wrong = "123456" if code != "123456" else "654321"
    visitor.post("/accounts/mfa/authenticate/", {"method": "totp", "code": wrong})
    visitor.post("/accounts/mfa/authenticate/", {"method": "recovery", "code": recovery[0]})
    secrets.append(wrong)
    visitor.post("/account/apps/", {"consent": Consent.objects.get(user=user).pk})
    visitor.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    handover = staff.post(f"/admin/oidc_provider/client/{rp.model.pk}/reset-secret/", follow=True)
    new_secret = handover.context["panels"][0]["secret"]
    assert new_secret and new_secret != rp.client_secret
    secrets.append(new_secret)

    recorded = {event.action for event in AuditEvent.objects.all()}
    assert {
        Action.LOGIN_FAILURE,
        Action.LOGIN_SUCCESS,
        Action.MFA_DEVICE_ADD,
        Action.RECOVERY_CODES_GENERATE,
        Action.CONSENT_GRANT,
        Action.TOKEN_REVOKE,
        Action.LOGOUT,
        Action.MFA_FAILURE,
        Action.RECOVERY_CODE_USE,
        Action.CONSENT_REVOKE,
        Action.PASSWORD_CHANGED,
        Action.CLIENT_SECRET_RESET,
    } <= recorded
    stored = "\n".join(
        json.dumps([event.action, event.target, event.actor_label, event.detail, event.ip, event.user_agent])
        for event in AuditEvent.objects.all()
    )
    for secret in secrets:
        assert secret and secret not in stored
    # The admin pages show the same events: none of them shows a secret either.
    for event in AuditEvent.objects.all():
        page = staff.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
        for secret in secrets:
            assert secret not in page
