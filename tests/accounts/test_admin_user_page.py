"""The user's admin page shows a person whole and lets staff act on it; every action is audited."""

import re

import pytest
from django.test import Client as BrowserClient

from accounts.mfa import policy
from accounts.mfa.recovery_codes import recovery_codes_remaining
from audit.models import AuditEvent
from oidc_provider.models import Consent
from tests.conftest import PASSWORD, authorize, exchange, sign_in


def user_page(staff, user) -> str:
    response = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def act(staff, user, action: str, **data):
    return staff.post(f"/admin/accounts/user/{user.pk}/act/{action}/", data, follow=True)


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_admin_user_page_shows_devices_consents_tokens_and_events(
    staff, user, logged_in, client, rp, request
):
    exchange(client, rp, authorize(logged_in, rp))
    # Added after signing in: with them the password alone would not have signed alice in.
    totp_device = request.getfixturevalue("totp_device")
    request.getfixturevalue("passkey")
    recovery_codes = request.getfixturevalue("recovery_codes")
    page = user_page(staff, user)
    assert "Phone" in page and "authenticator app" in page
    assert "Passkey" in page and "passkey or security key" in page
    assert f"{len(recovery_codes)} unused recovery codes" in page
    assert "Test app" in page and "openid, profile, email, offline_access" in page
    assert "1 live refresh token" in page
    act(staff, user, "password_reset_send")
    # Recent events say what happened in words, the code beside it for people who grep logs.
    events = user_page(staff, user).split("Recent events")[1]
    assert "Staff sent a password reset link" in events and "user.password_reset_send" in events
    # Secrets of the devices never reach the page.
    assert totp_device.key_encrypted not in page


def test_admin_user_revoke_tokens_makes_every_app_sign_in_again(staff, root, user, logged_in, client, rp):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    response = act(staff, user, "tokens_revoke")
    assert response.status_code == 200 and "Revoked" in messages_of(response)
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 401
    event = AuditEvent.objects.get(action="user.tokens_revoke", target="alice")
    assert event.actor == root and tokens["refresh_token"] not in str(event.detail)
    # The consent stays: the app asks the user to sign in again, not to allow it again.
    assert Consent.objects.filter(user=user, client=rp.model).exists()


def test_admin_user_consent_revoke_takes_the_app_off_their_list(staff, root, user, logged_in, client, rp):
    exchange(client, rp, authorize(logged_in, rp))
    consent = Consent.objects.get(user=user, client=rp.model)
    response = act(staff, user, "consent_revoke", consent=consent.pk)
    assert "can no longer use" in messages_of(response)
    assert not Consent.objects.filter(pk=consent.pk).exists()
    assert AuditEvent.objects.filter(action="consent.revoke", target="alice", actor=root).exists()


def test_admin_user_passkey_can_be_renamed_and_removed(staff, root, user, passkey, totp_device):
    response = act(staff, user, "device_rename", device=passkey.persistent_id, name="Work laptop")
    assert "Renamed “Passkey” to “Work laptop”" in messages_of(response)
    passkey.refresh_from_db()
    assert passkey.name == "Work laptop"
    act(staff, user, "device_remove", device=passkey.persistent_id)
    assert [device.name for device in policy.primary_devices(user)] == ["Phone"]
    actions = set(AuditEvent.objects.filter(target="alice", actor=root).values_list("action", flat=True))
    assert {"user.device_rename", "user.device_remove"} <= actions


def test_admin_user_cannot_touch_another_users_device(staff, user, passkey, django_user_model):
    other = django_user_model.objects.create_user("bob", password=PASSWORD)
    response = act(staff, other, "device_remove", device=passkey.persistent_id)
    assert "No such device" in messages_of(response)
    assert policy.passkeys(user) == [passkey]


def test_admin_user_reset_mfa_removes_every_factor_and_is_audited(
    staff, root, user, totp_device, passkey, recovery_codes
):
    response = act(staff, user, "mfa_reset")
    assert "Removed" in messages_of(response)
    assert not policy.has_second_factor(user)
    assert recovery_codes_remaining(user) == 0
    event = AuditEvent.objects.get(action="user.mfa_reset", target="alice")
    assert event.actor == root and len(event.detail["devices"]) == 3
    # The password alone signs them in again.
    signed_in = BrowserClient().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/accounts/"


def test_admin_user_password_reset_link_is_mailed_and_works(staff, root, user, mailoutbox):
    response = act(staff, user, "password_reset_send")
    assert f"Sent a password reset link to {user.email}" in messages_of(response)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [user.email]
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/password/reset/\S+)", mailoutbox[0].body).group(1)
    page = BrowserClient().get(link, follow=True)
    assert page.status_code == 200 and b"new_password1" in page.content
    assert AuditEvent.objects.filter(action="user.password_reset_send", target="alice", actor=root).exists()


def test_admin_user_password_reset_needs_an_email_address(staff, django_user_model, mailoutbox):
    nomail = django_user_model.objects.create_user("nomail", password=PASSWORD)
    response = act(staff, nomail, "password_reset_send")
    assert "no e-mail address" in messages_of(response)
    assert mailoutbox == []


def test_admin_user_actions_are_post_only_and_staff_only(staff, user, totp_device, logged_in):
    assert staff.get(f"/admin/accounts/user/{user.pk}/act/mfa_reset/").status_code == 405
    assert staff.post(f"/admin/accounts/user/{user.pk}/act/no_such_action/").status_code == 404
    refused = logged_in.post(f"/admin/accounts/user/{user.pk}/act/mfa_reset/")
    assert refused.status_code in (302, 403)
    assert policy.has_second_factor(user)


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("device_remove", {"device": "accounts.User/1"}, "No such device"),
        ("device_remove", {"device": "not a device id"}, "No such device"),
        ("device_remove", {}, "No such device"),
        ("device_rename", {"device": "otp_static.staticdevice/x", "name": "x"}, "No such device"),
        ("consent_revoke", {"consent": "1 OR 1=1"}, "That consent no longer exists"),
        ("consent_revoke", {}, "That consent no longer exists"),
    ],
)
def test_admin_user_actions_answer_bad_input_with_a_message(staff, user, passkey, action, data, message):
    response = act(staff, user, action, **data)
    assert response.status_code == 200 and message in messages_of(response)
    assert policy.passkeys(user) == [passkey]


def test_admin_user_superusers_are_acted_on_by_superusers_only(root, django_user_model):
    from django.contrib.auth.models import Permission

    helpdesk = django_user_model.objects.create_user("helpdesk", password=PASSWORD, is_staff=True)
    helpdesk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    browser = sign_in(BrowserClient(), "helpdesk", PASSWORD)
    assert browser.post(f"/admin/accounts/user/{root.pk}/act/tokens_revoke/").status_code == 403
    assert not AuditEvent.objects.filter(action="user.tokens_revoke").exists()


# Staff never see or choose a person's password (README, docs/accounts.md): no field, no button,
# no page, and the stock URL refused - for superusers too.


def test_admin_user_page_shows_no_password_hash_or_set_password_button(staff, user):
    page = user_page(staff, user)
    assert "algorithm" not in page and "argon2" not in page and "pbkdf2" not in page
    assert user.password not in page and user.password.split("$")[-1] not in page
    assert "Reset password" not in page and "Set password" not in page
    assert "/password/" not in page.replace("password_reset_send", "")
    # The page's own way is still there.
    assert "Send a password reset link" in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_admin_user_password_url_is_refused_even_to_a_superuser(staff, user, method):
    before = user.password
    new = "chosen-by-staff-Xq93"
    response = getattr(staff, method)(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 404
    user.refresh_from_db()
    assert user.password == before and not user.check_password(new)
    assert BrowserClient().post("/accounts/login/", {"username": "alice", "password": new}).status_code == 200


def test_admin_user_add_form_has_no_password_and_makes_an_account_without_one(staff, django_user_model):
    page = staff.get("/admin/accounts/user/add/").content.decode()
    assert 'name="password1"' not in page and 'name="usable_password"' not in page
    assert "starts without a password" in page
    response = staff.post(
        "/admin/accounts/user/add/",
        {
            "username": "newcomer",
            "email": "new@example.com",
            "password1": "x-Chosen-1",
            "password2": "x-Chosen-1",
        },
    )
    assert response.status_code == 302
    newcomer = django_user_model.objects.get(username="newcomer")
    assert not newcomer.has_usable_password() and not newcomer.check_password("x-Chosen-1")


def test_admin_user_page_groups_shown_and_permissions_only_for_superusers_folded(
    staff, user, django_user_model
):
    page = user_page(staff, user)
    assert 'name="groups"' in page
    # Permissions one by one: for superusers, in a folded "advanced" section with the two-list widget.
    advanced = page.split("Advanced: permissions given one by one")[1].split("</fieldset>")[0]
    assert 'name="user_permissions"' in advanced and "selectfilter" in advanced
    assert re.search(r'<fieldset class="[^"]*collapse[^"]*"', page) or "<details" in page
    clerk = django_user_model.objects.create_user("clerk", password="clerk-password-123", is_staff=True)
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    clerk_page = sign_in(BrowserClient(), "clerk", "clerk-password-123").get(
        f"/admin/accounts/user/{user.pk}/change/"
    )
    assert clerk_page.status_code == 200
    assert 'name="user_permissions"' not in clerk_page.content.decode()
    assert 'name="groups"' in clerk_page.content.decode()


def test_admin_user_page_time_zone_and_language_are_the_profile_pages_lists(staff, user):
    user.zoneinfo, user.locale = "Europe/London", "en-US"
    user.save()
    page = user_page(staff, user)
    zones = page.split('<select name="zoneinfo"')[1].split("</select>")[0]
    assert '<option value="Europe/London" selected>London</option>' in zones
    languages = page.split('<select name="locale"')[1].split("</select>")[0]
    assert '<option value="en-US" selected>English (United States)</option>' in languages
    text = re.sub(r"<[^>]+>", " ", page)
    for jargon in ("BCP47", "BCP 47", "E.164", "Raw passwords"):
        assert jargon not in text


def test_admin_user_page_dates_have_one_format(staff, user, logged_in, client, rp):
    exchange(client, rp, authorize(logged_in, rp))
    page = user_page(staff, user)
    # Django's DATETIME_FORMAT for the staff member's language (English: "Dec. 6, 2026, 3:42 p.m.").
    from django.utils import formats, timezone

    user.refresh_from_db()
    expected = formats.date_format(timezone.localtime(user.last_login), "DATETIME_FORMAT")
    assert expected in page
    text = re.sub(r"<[^>]+>", " ", page)
    # No other spelling of a date: neither "6 Dec 2026" nor ISO dates.
    assert not re.search(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b", text)
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)


def test_admin_user_page_says_active_and_verified_once(staff, user):
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", user_page(staff, user).split('id="person"')[1]))
    cards = text.split("Username:")[0]
    assert cards.count("verified") == 1
    assert len(re.findall(r"\bActive\b", cards)) == 0 and cards.count("Can sign in") == 1


def test_admin_user_page_puts_deactivate_and_erase_in_a_separate_danger_zone(staff, user):
    page = user_page(staff, user)
    danger = page.split('id="person-danger"')[1].split("</section>")[0]
    assert "Deactivate" in danger and "Erase now" in danger and "cannot be undone" in danger
    rest = page.split('id="person-danger"')[0]
    assert "account_erase" not in rest and "account_deactivate" not in rest
    # Still works from there, with its confirmation.
    response = act(staff, user, "account_deactivate", confirm="yes")
    assert "Deactivated" in user_page(staff, user)
    assert response.status_code == 200
