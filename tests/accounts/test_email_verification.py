"""E-mail verification: a single-use, expiring link; staff resend or vouch; RPs see email_verified."""

import re

import pytest
from django.test import Client as BrowserClient

from audit.models import AuditEvent
from tests.admin_forms import change_user_in_admin
from tests.conftest import authorize, basic_auth, exchange, validate_id_token

PROFILE = "/accounts/profile/"
LINK = re.compile(r"https?://[^/\s]+(/accounts/email/verify/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def browser_signed_out(db) -> BrowserClient:
    return BrowserClient()


def change_email(browser, address: str):
    """Post the profile form as it stands with a new e-mail address."""
    form = browser.get(PROFILE).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["email"] = address
    return browser.post(PROFILE, data, follow=True)


def link_in(message) -> str:
    link = LINK.search(message.body)
    assert link, message.body
    return link.group(1)


def actions(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("created"))


def test_email_change_mails_link_that_verifies_after_confirming(logged_in, user, mailoutbox):
    page = change_email(logged_in, "new@example.com")
    assert "We sent a link to new@example.com" in page.content.decode()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new@example.com"]
    link = link_in(mailoutbox[0])
    assert mailoutbox[0].body.count("http://127.0.0.1:8000/accounts/email/verify/") == 1  # the issuer's host

    # A mail scanner fetching the link verifies nothing: the page asks first.
    asked = logged_in.get(link)
    assert asked.status_code == 200
    assert "Confirm new@example.com" in asked.content.decode()
    user.refresh_from_db()
    assert user.email_verified is False

    done = logged_in.post(link)
    assert done.status_code == 200
    assert "Your address new@example.com is verified" in done.content.decode()
    user.refresh_from_db()
    assert user.email_verified is True
    assert [event.detail["email"] for event in actions("email.verified")] == ["new@example.com"]
    assert [event.detail["to"] for event in actions("email.verification_sent")] == ["new@example.com"]


def test_email_verify_link_works_signed_out(logged_in, browser_signed_out, user, mailoutbox):
    change_email(logged_in, "new@example.com")
    link = link_in(mailoutbox[0])
    page = browser_signed_out.post(link)
    assert "Your address new@example.com is verified" in page.content.decode()
    assert 'href="/accounts/login/"' in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified is True


def test_email_verify_link_works_once(logged_in, user, mailoutbox):
    change_email(logged_in, "new@example.com")
    link = link_in(mailoutbox[0])
    logged_in.post(link)
    for again in (logged_in.get(link), logged_in.post(link)):
        assert again.status_code == 200
        assert "This link has expired or was already used" in again.content.decode()
    assert len(actions("email.verified")) == 1


def test_email_verify_link_expires(logged_in, user, mailoutbox, later, settings):
    # Short enough that the sign-in session outlives it.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "EMAIL_VERIFICATION_LIFETIME": 600}
    change_email(logged_in, "new@example.com")
    link = link_in(mailoutbox[0])
    later(settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"] + 1)
    page = logged_in.post(link)
    content = page.content.decode()
    assert "This link has expired or was already used" in content
    # The way on: a new link, from the same page.
    assert 'action="/accounts/email/verify/send/"' in content
    user.refresh_from_db()
    assert user.email_verified is False


def test_email_verify_link_works_until_its_lifetime_ends(logged_in, user, mailoutbox, later, settings):
    change_email(logged_in, "new@example.com")
    later(settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"] - 60)
    assert "is verified" in logged_in.post(link_in(mailoutbox[0])).content.decode()


def test_email_verify_link_dies_when_address_changes(logged_in, user, mailoutbox):
    change_email(logged_in, "first@example.com")
    change_email(logged_in, "second@example.com")
    first, second = (link_in(message) for message in mailoutbox)
    assert "expired or was already used" in logged_in.post(first).content.decode()
    # Changing back does not revive the old link either.
    change_email(logged_in, "first@example.com")
    assert "expired or was already used" in logged_in.post(first).content.decode()
    assert "expired or was already used" in logged_in.post(second).content.decode()
    user.refresh_from_db()
    assert (user.email, user.email_verified) == ("first@example.com", False)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/verify/xx/1-abc/",
        "/accounts/email/verify/MQ/not-a-token/",
        "/accounts/email/verify/%F0%9F%98%80/zz-zz/",
        "/accounts/email/verify/MTIzNDU2Nzg5MDEyMzQ1Njc4OTA/1-abc/",
    ],
)
def test_email_verify_malformed_link_is_refused_plainly(browser, user, path):
    for response in (browser.get(path), browser.post(path)):
        assert response.status_code == 200
        assert "This link has expired or was already used" in response.content.decode()
        assert 'href="/accounts/login/?next=/accounts/profile/"' in response.content.decode()


def test_profile_shows_unverified_address_with_resend(logged_in, user, mailoutbox):
    user.email_verified = False
    user.save()
    page = logged_in.get(PROFILE).content.decode()
    assert "not verified" in page
    assert 'action="/accounts/email/verify/send/"' in page
    response = logged_in.post("/accounts/email/verify/send/", follow=True)
    assert "We sent a link to alice@example.com" in response.content.decode()
    assert len(mailoutbox) == 1
    assert "is verified" in logged_in.post(link_in(mailoutbox[0])).content.decode()


def test_profile_hides_resend_when_verified(logged_in, user):
    page = logged_in.get(PROFILE).content.decode()
    assert "not verified" not in page
    assert 'action="/accounts/email/verify/send/"' not in page


def test_email_verification_resend_is_limited_per_account(logged_in, user, mailoutbox, settings, later):
    user.email_verified = False
    user.save()
    limit = settings.PORCHLIGHT["PASSWORD_RESET_MAX_PER_ACCOUNT"]
    for _ in range(limit):
        logged_in.post("/accounts/email/verify/send/")
    refused = logged_in.post("/accounts/email/verify/send/", follow=True)
    assert "Several links were sent recently" in refused.content.decode()
    assert len(mailoutbox) == limit
    assert len(actions("email.verification_limited")) == 1
    # Once the window has passed, a link goes again.
    later(settings.PORCHLIGHT["PASSWORD_RESET_WINDOW"] + 1)
    logged_in.post("/accounts/email/verify/send/")
    assert len(mailoutbox) == limit + 1


# --- staff -----------------------------------------------------------------------------------------


def act(staff, user, action: str):
    return staff.post(f"/admin/accounts/user/{user.pk}/act/{action}/", follow=True)


def test_staff_resend_verification_link_is_audited(staff, user, mailoutbox):
    user.email_verified = False
    user.save()
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Resend verification link" in page and "Mark address verified" in page
    response = act(staff, user, "email_verification_send")
    assert "Sent alice@example.com a link" in response.content.decode()
    assert mailoutbox[0].to == ["alice@example.com"]
    [event] = actions("email.verification_sent")
    assert event.actor.username == "root" and event.target == "alice"


def test_staff_mark_verified_is_audited(staff, user):
    user.email_verified = False
    user.save()
    response = act(staff, user, "email_mark_verified")
    assert "Marked alice@example.com verified" in response.content.decode()
    user.refresh_from_db()
    assert user.email_verified is True
    [event] = actions("email.marked_verified")
    assert event.actor.username == "root" and event.detail == {"email": "alice@example.com"}
    # Nothing left to do: the buttons are gone.
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Mark address verified" not in page


def test_staff_changing_address_in_admin_unverifies_it(staff, user):
    response = change_user_in_admin(staff, user, email="typed-by-staff@example.com")
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.email, user.email_verified) == ("typed-by-staff@example.com", False)


# --- what relying parties see ------------------------------------------------------------------------


def test_rp_sees_email_verified_in_next_id_token_and_userinfo(logged_in, rp, client, user, mailoutbox):
    change_email(logged_in, "new@example.com")
    jwks = client.get("/o/jwks/").json()

    result = authorize(logged_in, rp, scope="openid email offline_access")
    before = exchange(client, rp, result).json()
    claims = validate_id_token(before["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    assert (claims["email"], claims["email_verified"]) == ("new@example.com", False)
    info = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {before['access_token']}").json()
    assert info["email_verified"] is False

    logged_in.post(link_in(mailoutbox[0]))

    # UserInfo answers with the user as they are now (OIDC Core 1.0 §5.3.2) ...
    info = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {before['access_token']}").json()
    assert (info["email"], info["email_verified"]) == ("new@example.com", True)
    # ... and the next ID token, from a refresh or a new sign-in, says so too.
    refreshed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": before["refresh_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    ).json()
    claims = validate_id_token(refreshed["id_token"], jwks=jwks, audience=rp.client_id)
    assert claims["email_verified"] is True
    result = authorize(logged_in, rp, scope="openid email")
    after = exchange(client, rp, result).json()
    claims = validate_id_token(after["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    assert (claims["email"], claims["email_verified"]) == ("new@example.com", True)
