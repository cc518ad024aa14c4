"""Session-bound tokens die with their sign-in session, however it ends (Back-Channel Logout 1.0 §2.7,
OIDC Core 1.0 §11).

For each way a session ends, a resource server introspecting the session's access and refresh
tokens (RFC 7662) is told ``active: false`` and UserInfo refuses the access token (RFC 6750 §3.1),
while offline tokens (offline_access) from the same session live on — except where the account's
password changed or the account was deactivated, which end offline access too, as designed.
"""

from dataclasses import dataclass
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts.models import LoginSession
from tests.conftest import PASSWORD, RegisteredClient, authorize, exchange, sign_in
from tests.oauth import introspection, userinfo_status

LOGOUT = "/o/logout/"
LOGGED_OUT = "https://rp.example.com/logged-out"
NEW_PASSWORD = "a new long passphrase 42"


@pytest.fixture
def resource_server(make_client, signing_keys) -> RegisteredClient:
    server = make_client(name="API", redirect_uris=[], grant_types=["client_credentials"])
    server.model.may_introspect = True
    server.model.save()
    return server


@dataclass
class Held:
    """What an app holds from one sign-in session: session-bound tokens and offline ones."""

    bound: dict
    offline: dict


def hold(browser, rp: RegisteredClient, http) -> Held:
    bound = exchange(http, rp, authorize(browser, rp, scope="openid email")).json()
    offline = exchange(http, rp, authorize(browser, rp, scope="openid email offline_access")).json()
    assert bound["refresh_token"] and offline["refresh_token"]
    return Held(bound=bound, offline=offline)


def active(http, server: RegisteredClient, token: str) -> bool:
    return introspection(http, server, token)["active"]


def assert_alive(http, server: RegisteredClient, tokens: dict) -> None:
    assert active(http, server, tokens["access_token"])
    assert active(http, server, tokens["refresh_token"])
    assert userinfo_status(http, tokens["access_token"]) == 200


def assert_dead(http, server: RegisteredClient, tokens: dict) -> None:
    assert introspection(http, server, tokens["access_token"]) == {"active": False}
    assert introspection(http, server, tokens["refresh_token"]) == {"active": False}
    assert userinfo_status(http, tokens["access_token"]) == 401


def test_rp_initiated_logout_kills_session_tokens_keeps_offline(logged_in, rp, client, resource_server):
    held = hold(logged_in, rp, client)
    assert_alive(client, resource_server, held.bound)
    response = logged_in.get(
        LOGOUT, {"id_token_hint": held.bound["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


def test_sign_out_kills_session_tokens_keeps_offline(logged_in, rp, client, resource_server):
    held = hold(logged_in, rp, client)
    logged_in.post("/accounts/logout/")
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


def test_sign_out_everywhere_kills_other_sessions_tokens(user, rp, client, resource_server):
    here, elsewhere = sign_in(BrowserClient(), "alice", PASSWORD), sign_in(BrowserClient(), "alice", PASSWORD)
    kept, ended = hold(here, rp, client), hold(elsewhere, rp, client)
    response = here.post("/accounts/sessions/end/", {"sid": "others"})
    assert response.status_code == 302
    assert_dead(client, resource_server, ended.bound)
    assert_alive(client, resource_server, ended.offline)
    # The session the person acted from goes on, and its tokens with it.
    assert_alive(client, resource_server, kept.bound)


def test_sign_out_of_one_other_session_kills_its_tokens(user, rp, client, resource_server):
    here, elsewhere = sign_in(BrowserClient(), "alice", PASSWORD), sign_in(BrowserClient(), "alice", PASSWORD)
    held = hold(elsewhere, rp, client)
    sid = LoginSession.objects.filter(user=user).order_by("-created").first().sid
    here.post("/accounts/sessions/end/", {"sid": sid})
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


def test_staff_ending_a_session_on_the_user_page_kills_its_tokens(staff, user, rp, client, resource_server):
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    held = hold(browser, rp, client)
    sid = LoginSession.objects.get(user=user, ended__isnull=True).sid
    response = staff.post(f"/admin/accounts/user/{user.pk}/act/session_end/", {"sid": sid}, follow=True)
    assert response.status_code == 200
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


def test_staff_ending_sessions_in_the_session_list_kills_their_tokens(
    staff, user, rp, client, resource_server
):
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    held = hold(browser, rp, client)
    session = LoginSession.objects.get(user=user, ended__isnull=True)
    response = staff.post(
        "/admin/accounts/loginsession/", {"action": "end_sessions", "_selected_action": [session.pk]}
    )
    assert response.status_code == 302
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


@pytest.mark.parametrize("command", ["expiresessions", "housekeeping"])
def test_expiry_kills_session_tokens_keeps_offline(logged_in, user, rp, client, resource_server, command):
    held = hold(logged_in, rp, client)
    # The session's lifetime runs out (before its tokens would).
    LoginSession.objects.filter(user=user).update(expires=timezone.now() - timedelta(seconds=1))
    # The refresh token dies at once with the session's lifetime.
    assert introspection(client, resource_server, held.bound["refresh_token"]) == {"active": False}
    call_command(command, stdout=StringIO())
    assert LoginSession.objects.get(user=user).end_reason == LoginSession.EndReason.EXPIRED
    assert_dead(client, resource_server, held.bound)
    assert_alive(client, resource_server, held.offline)


def test_password_change_kills_other_sessions_tokens_and_offline(user, rp, client, resource_server):
    here, elsewhere = sign_in(BrowserClient(), "alice", PASSWORD), sign_in(BrowserClient(), "alice", PASSWORD)
    kept, ended = hold(here, rp, client), hold(elsewhere, rp, client)
    response = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "keep_session": "on",
        },
    )
    assert response.status_code == 302
    # A password change ends every other session: their tokens die with them.
    assert_dead(client, resource_server, ended.bound)
    # Offline access granted under the old password ends too (RFC 9700 §4.14.2), in every session.
    assert_dead(client, resource_server, ended.offline)
    assert_dead(client, resource_server, kept.offline)
    # The session the password was changed in goes on.
    assert_alive(client, resource_server, kept.bound)


def test_deactivation_kills_every_token(staff, user, rp, client, resource_server):
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    held = hold(browser, rp, client)
    staff.post(
        f"/admin/accounts/user/{user.pk}/act/account_deactivate/",
        {"confirm": "yes", "reason": "left"},
        follow=True,
    )
    user.refresh_from_db()
    assert not user.is_active
    assert LoginSession.objects.get(user=user).end_reason == LoginSession.EndReason.DEACTIVATED
    assert_dead(client, resource_server, held.bound)
    # A deactivated account keeps no token at all, offline ones included.
    assert_dead(client, resource_server, held.offline)
