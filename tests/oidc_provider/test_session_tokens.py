"""Session-bound and offline refresh tokens around sign-out and password changes (OIDC Core 1.0 §11).

A refresh token issued without offline_access lives no longer than the sign-in session it came
from; an offline one outlives the session but not the password it was granted under.
"""

import re

from django.core import mail
from django.test import Client as BrowserClient

from accounts.models import LoginSession
from audit.models import AuditEvent
from tests.conftest import PASSWORD, authorize, exchange, sign_in
from tests.oauth import refresh_status
from tests.tokens import claims_of

NEW_PASSWORD = "a new long passphrase 42"


def change_password(browser, *, keep_session: bool):
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    if keep_session:
        data["keep_session"] = "on"
    return browser.post("/accounts/password/", data)


def test_sign_in_records_a_session_with_its_sid(rp, logged_in, client, user):
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid")).json()
    session = LoginSession.objects.get(user=user)
    assert session.is_active() and session.amr == ["pwd"]
    assert claims_of(body["id_token"])["sid"] == session.sid


def test_password_change_keeping_this_session_ends_the_others_and_offline_access(rp, user, client):
    here, elsewhere = sign_in(BrowserClient(), "alice", PASSWORD), sign_in(BrowserClient(), "alice", PASSWORD)
    here_tokens = exchange(client, rp, authorize(here, rp, scope="openid")).json()
    elsewhere_tokens = exchange(client, rp, authorize(elsewhere, rp, scope="openid")).json()
    offline = exchange(client, rp, authorize(here, rp, scope="openid offline_access")).json()
    assert change_password(here, keep_session=True).status_code == 302
    assert refresh_status(client, rp, here_tokens["refresh_token"]) == 200
    assert refresh_status(client, rp, elsewhere_tokens["refresh_token"]) == 400
    assert refresh_status(client, rp, offline["refresh_token"]) == 400
    assert here.get("/accounts/").status_code == 200
    assert elsewhere.get("/accounts/").status_code == 302
    event = AuditEvent.objects.get(action="password_changed")
    assert event.target == "alice" and event.detail["sessions_ended"] == 1
    assert PASSWORD not in str(event.detail) and NEW_PASSWORD not in str(event.detail)


def test_password_change_without_keeping_this_session_signs_out_everywhere(rp, user, client):
    here = sign_in(BrowserClient(), "alice", PASSWORD)
    tokens = exchange(client, rp, authorize(here, rp, scope="openid")).json()
    response = change_password(here, keep_session=False)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert here.get("/accounts/").status_code == 302
    assert refresh_status(client, rp, tokens["refresh_token"]) == 400
    assert not LoginSession.objects.filter(user=user, ended__isnull=True).exists()


def test_password_reset_ends_every_session_and_offline_access(rp, user, client, browser):
    signed_in = sign_in(BrowserClient(), "alice", PASSWORD)
    session_bound = exchange(client, rp, authorize(signed_in, rp, scope="openid")).json()
    offline = exchange(client, rp, authorize(signed_in, rp, scope="openid offline_access")).json()
    browser.post("/accounts/password/reset/", {"email": "alice@example.com"})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = browser.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = browser.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert refresh_status(client, rp, session_bound["refresh_token"]) == 400
    assert refresh_status(client, rp, offline["refresh_token"]) == 400
    assert AuditEvent.objects.get(action="password_changed").actor_label == "password reset link"


def test_sign_out_ends_the_session_record(logged_in, user):
    assert LoginSession.objects.get(user=user).is_active()
    logged_in.post("/accounts/logout/")
    session = LoginSession.objects.get(user=user)
    assert session.ended is not None and session.end_reason == "logout"
