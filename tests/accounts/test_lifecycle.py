"""Deactivating, deleting, restoring and erasing accounts (GDPR Art. 17), as users, staff and apps see it."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from accounts.lifecycle.services import account_deletion_request, account_erase, accounts_erase_due
from accounts.mfa.models import RecoveryCodeDevice, TOTPAuthenticator
from accounts.models import LoginSession
from audit.models import AuditEvent
from audit.services import audit_record
from oidc_provider.housekeeping import housekeeping_prune
from oidc_provider.models import AccessToken, Consent, Grant, RefreshToken
from tests.accounts.conftest import age_sign_in, database_text
from tests.conftest import PASSWORD, STAFF_PASSWORD, authorize, exchange, sign_in
from tests.logout_receiver import LogoutReceiver
from tests.oauth import introspection, refresh, userinfo_status
from tests.tokens import claims_of

DELETE = "/accounts/delete/"


def can_sign_in(username: str, password: str = PASSWORD) -> bool:
    response = BrowserClient().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def app_tokens(rp, logged_in, client) -> dict:
    """Tokens an app holds for alice: an access token and an offline refresh token."""
    return exchange(client, rp, authorize(logged_in, rp)).json()


# --- the user's "Delete my account" page ------------------------------------------------------


def test_account_home_links_to_delete_page(logged_in):
    page = logged_in.get("/accounts/").content.decode()
    assert 'href="/accounts/delete/"' in page


def test_account_delete_page_says_what_happens(logged_in, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "ACCOUNT_DELETION_GRACE_DAYS": 21}
    response = logged_in.get(DELETE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "signed out here and on every other device" in page
    assert "After 21 days" in page
    assert "restore your account" in page
    assert "Download a copy of your data" in page


def test_account_delete_asks_a_stale_sign_in_to_sign_in_again(logged_in, user):
    age_sign_in(logged_in, 3600)
    response = logged_in.post(DELETE, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/accounts/delete/")
    user.refresh_from_db()
    assert user.is_active and user.deletion_requested is None


def test_account_delete_needs_anonymous_to_sign_in(client, db):
    response = client.get(DELETE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_account_delete_without_confirmation_keeps_the_account(logged_in, user):
    response = logged_in.post(DELETE, {})
    assert response.status_code == 200
    assert "Tick the box to confirm" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active


def test_account_delete_closes_account_signs_out_and_revokes_every_token(
    logged_in, user, rp, client, app_tokens
):
    elsewhere = sign_in(BrowserClient(), "alice", PASSWORD)
    response = logged_in.post(DELETE, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == "/accounts/closed/"
    closed = logged_in.get("/accounts/closed/")
    expected = (timezone.now() + timedelta(days=14)).strftime("%-d %B %Y")
    assert "Your account is closed" in closed.content.decode()
    assert expected in closed.content.decode()

    # Signed out here and in the other browser.
    assert logged_in.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert elsewhere.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert not LoginSession.objects.filter(user=user, ended__isnull=True).exists()
    # The app's access token fails at once; its offline refresh token is refused.
    assert userinfo_status(client, app_tokens["access_token"]) == 401
    assert introspection(client, rp, app_tokens["access_token"]) == {"active": False}
    refused = refresh(client, rp, app_tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert not can_sign_in("alice")
    user.refresh_from_db()
    assert user.erase_after - user.deletion_requested == timedelta(days=14)
    event = AuditEvent.objects.get(action="account.deletion_request")
    assert event.target == "alice" and event.actor == user


def test_account_closed_page_is_shown_once(logged_in):
    logged_in.post(DELETE, {"confirm": "on"})
    assert logged_in.get("/accounts/closed/").status_code == 200
    assert logged_in.get("/accounts/closed/")["Location"] == "/accounts/login/"


def test_account_delete_refuses_the_only_active_superuser(root, staff):
    response = staff.post(DELETE, {"confirm": "on"})
    assert response.status_code == 200
    assert "only active superuser" in response.content.decode()
    root.refresh_from_db()
    assert root.is_active


def test_account_delete_lets_a_superuser_go_when_another_remains(root, staff, django_user_model):
    django_user_model.objects.create_superuser("root2", "root2@example.com", STAFF_PASSWORD)
    assert staff.post(DELETE, {"confirm": "on"})["Location"] == "/accounts/closed/"
    root.refresh_from_db()
    assert not root.is_active and root.erase_after is not None


@pytest.mark.django_db(transaction=True)
def test_account_delete_tells_every_app_of_every_session(make_client, signing_keys, user, client):
    receiver = LogoutReceiver().start()
    try:
        apps = [
            make_client(name=name, logout={"backchannel_logout_uri": receiver.url})
            for name in ("First app", "Second app")
        ]
        here, elsewhere = (sign_in(BrowserClient(), "alice", PASSWORD) for _ in range(2))
        for browser, app in zip((here, elsewhere), apps, strict=True):
            exchange(client, app, authorize(browser, app, scope="openid"))
        assert here.post(DELETE, {"confirm": "on"}).status_code == 302
        # The task worker delivers the logout tokens (Back-Channel Logout 1.0 §2.5).
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
        audiences = sorted(claims_of(token)["aud"] for token in receiver.tokens)
        assert audiences == sorted(app.client_id for app in apps)
    finally:
        receiver.stop()


# --- codes and tokens of a deactivated account ------------------------------------------------


def test_code_of_a_deactivated_account_is_refused(rp, logged_in, client, user):
    result = authorize(logged_in, rp)
    # Deactivated behind the services' back: the token endpoint itself must refuse.
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = exchange(client, rp, result)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_token_of_a_deactivated_account_is_refused(rp, client, user, app_tokens):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = refresh(client, rp, app_tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_issued_before_deactivation_is_void(rp, logged_in, client, user):
    result = authorize(logged_in, rp)
    user.is_active = False
    user.save()
    response = exchange(client, rp, result)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def user_form_post(staff, user, **changes):
    """Post the admin's change form of ``user`` as it stands, with ``changes`` (False unticks a box)."""
    url = f"/admin/accounts/user/{user.pk}/change/"
    form = staff.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = changes.get(name, form.initial.get(name, field.initial))
        if value is None or value is False or field.disabled:
            continue
        if value is True:
            value = "on"
        elif isinstance(value, (list, tuple)):
            value = [getattr(item, "pk", item) for item in value]
        data[name] = value
    return staff.post(url, data)


def test_unticking_active_in_the_admin_revokes_offline_tokens(rp, client, user, app_tokens, staff):
    response = user_form_post(staff, user, is_active=False)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active
    event = AuditEvent.objects.filter(action="account.deactivate", target=user.username).get()
    assert event.actor is not None and event.actor.is_staff
    assert refresh(client, rp, app_tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo_status(client, app_tokens["access_token"]) == 401
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()


def test_device_approved_before_deactivation_is_denied(make_client, signing_keys, user, client):
    tv = make_client(
        name="TV",
        redirect_uris=[],
        post_logout_redirect_uris=[],
        public=True,
        grant_types=["urn:ietf:params:oauth:grant-type:device_code"],
    )
    started = client.post("/o/device/", {"client_id": tv.client_id, "scope": "openid"}).json()
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    entered = browser.post("/device/", {"user_code": started["user_code"]})
    question = browser.get(entered["Location"])
    browser.post("/device/confirm/", {"request": question.context["request_token"], "allow": "1"})
    user.is_active = False
    user.save()
    poll = client.post(
        "/o/token/",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
            "client_id": tv.client_id,
        },
    )
    assert poll.status_code == 400 and poll.json()["error"] == "access_denied"


# --- erasure ----------------------------------------------------------------------------------


@pytest.fixture
def full_account(user, rp, logged_in, client, app_tokens, passkey):
    """alice with an authenticator app, recovery codes, a passkey, a consent, tokens and history."""
    from accounts.mfa.recovery_codes import recovery_codes_generate

    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    recovery_codes_generate(user)
    user.groups.create(name="Readers")
    audit_record(action="user.password_reset_send", target="alice", detail={"to": "alice@example.com"})
    audit_record(action="login_lockout", target="account: password alice", detail={"failures": 5})
    audit_record(action="login.failure", target="ALICE@example.com", detail={"reason": "invalid"})
    return user


def test_erasure_waits_for_the_grace_period(full_account):
    account_deletion_request(user=full_account, actor=full_account)
    assert accounts_erase_due() == 0
    assert accounts_erase_due(now=timezone.now() + timedelta(days=13)) == 0
    assert accounts_erase_due(now=timezone.now() + timedelta(days=14, minutes=1)) == 1
    full_account.refresh_from_db()
    assert full_account.erased is not None


def test_erasure_leaves_a_tombstone_without_personal_data(full_account, client):
    subject = full_account.subject
    erased = account_erase(user=full_account, actor=None)
    erased.refresh_from_db()
    assert erased.subject == subject
    assert erased.username.startswith("erased-")
    assert erased.email == "" and erased.first_name == "" and erased.last_name == ""
    assert erased.phone_number == "" and erased.address_locality == "" and erased.address_country == ""
    assert not erased.email_verified and not erased.has_usable_password()
    assert not erased.is_active and not erased.is_staff and not erased.is_superuser
    assert not erased.groups.exists()
    assert not TOTPAuthenticator.objects.filter(user=erased).exists()
    assert not RecoveryCodeDevice.objects.filter(user=erased).exists()
    assert not WebAuthnCredential.objects.filter(user=erased).exists()
    assert not LoginSession.objects.filter(user=erased).exists()
    assert not Consent.objects.filter(user=erased).exists()
    assert not RefreshToken.objects.filter(user=erased).exists()
    assert not AccessToken.objects.filter(user=erased).exists()
    assert not Grant.objects.filter(user=erased).exists()
    # Nothing in the whole database still says who alice was.
    everything = database_text()
    for trace in ("alice@example.com", "liddell", "+441632960000", "oxford"):
        assert trace not in everything
    assert not can_sign_in("alice") and not can_sign_in("alice@example.com")


def test_erasure_keeps_audit_events_without_who(full_account):
    before = AuditEvent.objects.count()
    erased = account_erase(user=full_account, actor=None)
    events = list(AuditEvent.objects.all())
    assert len(events) == before + 1
    for event in events:
        text = json.dumps([event.target, event.actor_label, event.detail]).lower()
        assert "alice" not in text and event.ip == "" and event.user_agent == ""
        assert erased.subject not in text
    assert AuditEvent.objects.filter(action="login.success", target=erased.username).exists()
    assert AuditEvent.objects.filter(action="login_lockout", target=erased.username).exists()
    erase = AuditEvent.objects.get(action="account.erase")
    assert erase.detail == {"user_id": erased.pk} and erase.target == erased.username


def test_erased_subject_is_never_given_to_a_new_account(full_account, django_user_model):
    subject = account_erase(user=full_account, actor=None).subject
    newcomer = django_user_model.objects.create_user(username="alice", password=PASSWORD)
    assert newcomer.subject != subject
    with pytest.raises(IntegrityError), transaction.atomic():
        django_user_model.objects.create_user(username="mallory", subject=subject)


def test_an_account_loaded_before_its_erasure_is_not_erased_twice(full_account, django_user_model):
    # A staff "erase now" and housekeeping can each hold the account as it was before the other
    # erased it; the second must find the tombstone, not erase (and rename) it again.
    from django.core.exceptions import ValidationError

    stale = django_user_model.objects.get(pk=full_account.pk)
    tombstone = account_erase(user=full_account, actor=None)
    with pytest.raises(ValidationError, match="erased"):
        account_erase(user=stale, actor=None)
    assert django_user_model.objects.get(pk=full_account.pk).username == tombstone.username
    assert AuditEvent.objects.filter(action="account.erase").count() == 1


def test_erasure_of_the_only_active_superuser_is_refused(root):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        account_erase(user=root, actor=root)


def test_housekeeping_erases_accounts_past_their_grace_period(full_account):
    account_deletion_request(user=full_account, actor=full_account)
    get_user_model().objects.filter(pk=full_account.pk).update(
        erase_after=timezone.now() - timedelta(seconds=1)
    )
    counts = housekeeping_prune()
    assert counts["accounts_erased"] == 1
    full_account.refresh_from_db()
    assert full_account.erased is not None and full_account.email == ""


def test_housekeeping_deletes_sessions_ended_before_the_retention_period(user, logged_in, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SESSION_RETENTION_DAYS": 30}
    logged_in.post("/accounts/logout/")
    LoginSession.objects.update(ended=timezone.now() - timedelta(days=29))
    assert housekeeping_prune()["login_sessions"] == 0
    LoginSession.objects.update(ended=timezone.now() - timedelta(days=31))
    assert housekeeping_prune()["login_sessions"] == 1
    assert not LoginSession.objects.exists()


# --- staff: the user page and the change list -------------------------------------------------


def act(staff, user, action: str, **data):
    return staff.post(f"/admin/accounts/user/{user.pk}/act/{action}/", data, follow=True)


def test_admin_deactivate_needs_the_box_ticked(staff, user):
    page = act(staff, user, "account_deactivate").content.decode()
    assert "Tick the box to confirm" in page
    user.refresh_from_db()
    assert user.is_active


def test_admin_deactivate_and_reactivate(staff, user, rp, client, app_tokens):
    act(staff, user, "account_deactivate", confirm="yes", reason="left the company")
    user.refresh_from_db()
    assert not user.is_active
    assert refresh(client, rp, app_tokens["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(action="account.deactivate")
    assert event.actor.username == "root" and event.detail == {"reason": "left the company"}
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Deactivated" in page and "Reactivate" in page
    act(staff, user, "account_reactivate")
    assert can_sign_in("alice")
    assert AuditEvent.objects.filter(action="account.reactivate").exists()


def test_admin_restores_an_account_awaiting_erasure(staff, user):
    account_deletion_request(user=user, actor=user)
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Awaiting erasure" in page and "Restore the account" in page
    act(staff, user, "account_restore")
    user.refresh_from_db()
    assert user.is_active and user.erase_after is None and user.deletion_requested is None
    assert accounts_erase_due(now=timezone.now() + timedelta(days=365)) == 0
    assert can_sign_in("alice")
    assert AuditEvent.objects.get(action="account.restore").actor.username == "root"


def test_admin_erase_now(staff, user):
    page = act(staff, user, "account_erase", confirm="yes").content.decode()
    assert "Erased alice" in page
    user.refresh_from_db()
    assert user.erased is not None and user.username.startswith("erased-")
    # The tombstone cannot be edited, and is not found by its old name.
    assert staff.post(f"/admin/accounts/user/{user.pk}/change/", {"username": "x"}).status_code == 403
    listing = staff.get("/admin/accounts/user/", {"q": "alice"}).content.decode()
    assert "0 users" in listing or "0 results" in listing


def test_admin_change_list_filters_accounts_awaiting_erasure(staff, user, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    account_deletion_request(user=user, actor=user)
    listing = staff.get("/admin/accounts/user/", {"state": "awaiting erasure"}).content.decode()
    # Each listed account links to its change page (a random token on the page may spell "bob").
    assert re.search(rf"/admin/accounts/user/{user.pk}/change/[?\"]", listing)
    assert not re.search(rf"/admin/accounts/user/{bob.pk}/change/[?\"]", listing)
    assert f"awaiting erasure on {user.erase_after:%Y-%m-%d}" in listing


# --- manage.py deleteuser ---------------------------------------------------------------------


def test_deleteuser_schedules_the_erasure(user):
    out = StringIO()
    call_command("deleteuser", "alice", stdout=out)
    user.refresh_from_db()
    assert not user.is_active and user.erased is None
    assert f"{user.erase_after:%Y-%m-%d %H:%M}" in out.getvalue()
    assert AuditEvent.objects.get(action="account.deletion_request").actor_label == "deleteuser command"


def test_deleteuser_now_erases_at_once(user):
    out = StringIO()
    call_command("deleteuser", "alice", "--now", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"username": "alice", "erase_after": None, "erased": True}
    user.refresh_from_db()
    assert user.erased is not None and user.email == ""


def test_deleteuser_json_gives_the_erase_date(user):
    out = StringIO()
    call_command("deleteuser", "alice", "--json", stdout=out)
    result = json.loads(out.getvalue())
    user.refresh_from_db()
    assert result == {"username": "alice", "erase_after": user.erase_after.isoformat(), "erased": False}


def test_deleteuser_unknown_user_fails(db):
    with pytest.raises(CommandError, match="No account has the username 'nobody'"):
        call_command("deleteuser", "nobody")


def test_deleteuser_refuses_the_only_active_superuser(root):
    with pytest.raises(CommandError, match="only active superuser"):
        call_command("deleteuser", "root")
