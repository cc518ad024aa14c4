"""Single sign-out: back-channel logout tokens (OIDC Back-Channel Logout 1.0), front-channel frames
(Front-Channel Logout 1.0) and the sign-out question (RP-Initiated Logout 1.0).

A real receiver on a loopback port gets the logout tokens; the real task worker (``db_worker
--batch``) delivers them. tests/e2e/test_backchannel_worker.py runs the worker as its own process.
"""

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient

from accounts.models import LoginSession
from audit.models import AuditEvent
from oidc_provider.models import LogoutDelivery
from tests.conftest import ISSUER, PASSWORD, authorize, exchange, sign_in
from tests.logout_receiver import free_port, validate_logout_token
from tests.oauth import refresh_status
from tests.tokens import claims_of, header_of

# The worker commits as it goes (and drops a connection left inside a transaction), as in production.
pytestmark = pytest.mark.django_db(transaction=True)

# Without offline_access: the tokens are bound to the sign-in session (OIDC Core 1.0 §11).
SCOPE = "openid email"


@pytest.fixture
def backchannel_app(make_client, signing_keys, receiver):
    """Make a client whose back-channel logout URI is the receiver."""

    def make(name: str, **options):
        return make_client(name=name, logout={"backchannel_logout_uri": receiver.url}, **options)

    return make


def run_worker() -> None:
    """Run the task worker until no task is due (the worker `make run` starts)."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())


def test_discovery_advertises_back_and_front_channel_logout(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True
    assert document["frontchannel_logout_supported"] is True
    assert document["frontchannel_logout_session_supported"] is True


def test_rp_initiated_logout_tells_each_app_of_the_session_once(
    backchannel_app, make_client, logged_in, client, receiver, user
):
    first, second = backchannel_app("First app"), backchannel_app("Second app")
    silent = make_client(name="No back channel")
    unused = backchannel_app("Not used in this session")
    tokens = {
        app.client_id: exchange(client, app, authorize(logged_in, app, scope=SCOPE)).json()
        for app in (first, second)
    }
    exchange(client, silent, authorize(logged_in, silent, scope=SCOPE))
    hint = tokens[first.client_id]["id_token"]
    sid = claims_of(hint)["sid"]

    response = logged_in.get(
        "/o/logout/",
        {
            "id_token_hint": hint,
            "post_logout_redirect_uri": "https://rp.example.com/logged-out",
            "state": "s1",
        },
    )
    # The user's logout is not held up by delivery: it answers before any worker ran.
    assert response.status_code == 302
    assert response["Location"] == "https://rp.example.com/logged-out?state=s1"
    assert receiver.tokens == []

    run_worker()
    run_worker()  # a second pass sends nothing again
    jwks = client.get("/o/jwks/").json()
    received = [
        validate_logout_token(t, jwks=jwks, audience=claims_of(t)["aud"], issuer=ISSUER)
        for t in receiver.tokens
    ]
    assert sorted(c["aud"] for c in received) == sorted([first.client_id, second.client_id])
    assert {c["sid"] for c in received} == {sid} and {c["sub"] for c in received} == {user.subject}
    assert unused.client_id not in {c["aud"] for c in received}
    # The session's tokens died at the same moment (OIDC Core 1.0 §11).
    assert refresh_status(client, first, tokens[first.client_id]["refresh_token"]) == 400
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens[second.client_id]['access_token']}"}
    assert client.get("/o/userinfo/", **bearer).status_code == 401
    assert set(LogoutDelivery.objects.values_list("state", flat=True)) == {"delivered"}
    assert AuditEvent.objects.filter(action="logout_delivery.delivered").count() == 2


def test_logout_token_uses_the_clients_id_token_algorithm(backchannel_app, logged_in, client, receiver):
    app = backchannel_app("Edwards app", algorithm="EdDSA")
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    logged_in.post("/accounts/logout/")
    run_worker()
    (token,) = receiver.tokens
    header = header_of(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "logout+jwt"
    validate_logout_token(token, jwks=client.get("/o/jwks/").json(), audience=app.client_id, issuer=ISSUER)


def test_signing_out_everywhere_else_ends_the_other_sessions_and_tells_their_apps(
    backchannel_app, user, client, receiver
):
    app = backchannel_app("Shared app")
    here, phone = sign_in(BrowserClient(), "alice", PASSWORD), sign_in(BrowserClient(), "alice", PASSWORD)
    here_tokens = exchange(client, app, authorize(here, app, scope=SCOPE)).json()
    phone_tokens = exchange(client, app, authorize(phone, app, scope=SCOPE)).json()

    page = here.get("/accounts/")
    assert b"Where you&#x27;re signed in" in page.content or b"Where you're signed in" in page.content
    assert page.content.count(b"Shared app") == 2 and b"(this browser)" in page.content

    response = here.post("/accounts/sessions/end/", {"sid": "others"}, follow=True)
    assert b"Signed out of 1 other session." in response.content
    assert phone.get("/accounts/").status_code == 302  # that browser really is signed out
    assert here.get("/accounts/").status_code == 200
    assert refresh_status(client, app, phone_tokens["refresh_token"]) == 400
    assert refresh_status(client, app, here_tokens["refresh_token"]) == 200
    run_worker()
    (token,) = receiver.tokens
    assert claims_of(token)["sid"] == claims_of(phone_tokens["id_token"])["sid"]
    assert AuditEvent.objects.filter(action="session.end", target="alice").exists()


def test_a_user_cannot_end_someone_elses_session(user, django_user_model, signing_keys):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    bob = BrowserClient()
    bob.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    alice = sign_in(BrowserClient(), "alice", PASSWORD)
    bob_sid = LoginSession.objects.get(user__username="bob").sid
    alice.post("/accounts/sessions/end/", {"sid": bob_sid})
    assert bob.get("/accounts/").status_code == 200


def test_staff_ending_a_session_signs_that_browser_out_and_tells_the_apps(
    backchannel_app, user, client, receiver, staff
):
    app = backchannel_app("Staff-ended app")
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    tokens = exchange(client, app, authorize(browser, app, scope=SCOPE)).json()
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b"Sign-in sessions" in page.content and b"Staff-ended app" in page.content
    session = LoginSession.objects.get(user=user)
    response = staff.post(
        f"/admin/accounts/user/{user.pk}/act/session_end/", {"sid": session.sid}, follow=True
    )
    assert b"Ended 1 session of alice" in response.content
    assert browser.get("/accounts/").status_code == 302
    assert refresh_status(client, app, tokens["refresh_token"]) == 400
    run_worker()
    assert [claims_of(t)["aud"] for t in receiver.tokens] == [app.client_id]
    event = AuditEvent.objects.get(action="session.end")
    assert event.actor.username == "root" and event.detail["reason"] == "ended_by_staff"


def test_deactivating_an_account_ends_its_sessions_and_tells_the_apps(
    backchannel_app, user, client, receiver
):
    app = backchannel_app("App of a leaver")
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    exchange(client, app, authorize(browser, app, scope=SCOPE))
    user.is_active = False
    user.save()
    assert LoginSession.objects.get(user=user).end_reason == "deactivated"
    run_worker()
    assert len(receiver.tokens) == 1


def test_expired_sessions_are_ended_and_their_apps_told(backchannel_app, user, client, receiver):
    app = backchannel_app("Expiry app")
    browser = sign_in(BrowserClient(), "alice", PASSWORD)
    exchange(client, app, authorize(browser, app, scope=SCOPE))
    LoginSession.objects.filter(user=user).update(expires="2000-01-01T00:00:00Z")
    out = StringIO()
    call_command("expiresessions", stdout=out)
    assert "Ended 1 expired session" in out.getvalue()
    run_worker()
    assert len(receiver.tokens) == 1


def test_failed_delivery_is_retried_with_backoff_then_shown_failed_in_the_admin(
    backchannel_app, logged_in, client, receiver, staff, settings
):
    settings.PORCHLIGHT_LOGOUT_ATTEMPTS = 2
    settings.PORCHLIGHT_LOGOUT_RETRY_DELAY = 1
    receiver.status = 503
    app = backchannel_app("Flaky app")
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    logged_in.post("/accounts/logout/")

    run_worker()
    delivery = LogoutDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 503")
    time.sleep(1.2)
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 2)
    assert len(receiver.tokens) == 2

    page = staff.get("/admin/oidc_provider/logoutdelivery/?state__exact=failed")
    assert b"Flaky app" in page.content and b"HTTP 503" in page.content
    assert AuditEvent.objects.filter(
        action="logout_delivery.failed", target_type="client", target=app.client_id
    ).exists()

    # Staff send it again once the app is back; it is delivered once and never again.
    receiver.status = 200
    staff.post("/admin/oidc_provider/logoutdelivery/", {"action": "retry", "_selected_action": [delivery.pk]})
    run_worker()
    run_worker()
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and len(receiver.tokens) == 3


def test_delivery_follows_no_redirect(backchannel_app, logged_in, client, receiver, settings):
    settings.PORCHLIGHT_LOGOUT_ATTEMPTS = 1
    receiver.status = 307
    app = backchannel_app("Redirecting app")
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    logged_in.post("/accounts/logout/")
    run_worker()
    delivery = LogoutDelivery.objects.get()
    assert (delivery.state, delivery.last_error) == ("failed", "HTTP 307")


def test_unreachable_receiver_fails_with_a_readable_error(
    make_client, signing_keys, logged_in, client, settings
):
    settings.PORCHLIGHT_LOGOUT_ATTEMPTS = 1
    closed = f"http://127.0.0.1:{free_port()}/logout"
    app = make_client(name="Gone app", logout={"backchannel_logout_uri": closed})
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    logged_in.post("/accounts/logout/")
    run_worker()
    delivery = LogoutDelivery.objects.get()
    assert delivery.state == "failed" and delivery.last_error.startswith("ConnectError")


def test_signed_out_page_loads_front_channel_logout_frames(make_client, signing_keys, logged_in, client):
    with_session = make_client(
        name="Frame app",
        logout={
            "frontchannel_logout_uri": "https://rp.example.com/fc?x=1",
            "frontchannel_logout_session_required": True,
        },
    )
    plain = make_client(
        name="Plain frame app", logout={"frontchannel_logout_uri": "https://rp2.example.com/fc"}
    )
    tokens = exchange(client, with_session, authorize(logged_in, with_session, scope=SCOPE)).json()
    exchange(client, plain, authorize(logged_in, plain, scope=SCOPE))
    sid = claims_of(tokens["id_token"])["sid"]

    response = logged_in.post("/accounts/logout/", follow=True)
    page = response.content.decode()
    assert "You are signed out" in page
    assert f'src="https://rp.example.com/fc?x=1&amp;iss=http%3A%2F%2F127.0.0.1%3A8000&amp;sid={sid}"' in page
    assert 'src="https://rp2.example.com/fc"' in page
    # Shown once: a reload does not replay the frames.
    assert "rp.example.com/fc" not in logged_in.get("/accounts/logged-out/").content.decode()


def test_rp_initiated_logout_with_frames_continues_to_the_app(make_client, signing_keys, logged_in, client):
    app = make_client(name="Frame RP", logout={"frontchannel_logout_uri": "https://rp.example.com/fc"})
    tokens = exchange(client, app, authorize(logged_in, app, scope=SCOPE)).json()
    response = logged_in.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://rp.example.com/logged-out",
            "state": "xyz",
        },
        follow=True,
    )
    page = response.content.decode()
    assert 'src="https://rp.example.com/fc"' in page
    assert 'href="https://rp.example.com/logged-out?state=xyz"' in page


def test_logout_question_offers_to_stay_signed_in_and_go_back(rp, logged_in):
    params = {
        "client_id": rp.client_id,
        "post_logout_redirect_uri": "https://rp.example.com/logged-out",
        "state": "keep",
    }
    question = logged_in.get("/o/logout/", params)
    page = question.content.decode()
    assert "Sign out of Test app?" in page
    assert "Stay signed in and go back to Test app" in page
    # One question, two answers: the header's own sign-out is not on this page.
    assert 'action="/accounts/logout/"' not in page
    response = logged_in.post(f"/o/logout/?{'&'.join(f'{k}={v}' for k, v in params.items())}", params)
    assert response.status_code == 302
    assert response["Location"] == "https://rp.example.com/logged-out?state=keep"
    assert logged_in.get("/accounts/").status_code == 200


def test_account_sign_out_asks_first(logged_in):
    page = logged_in.get("/accounts/logout/").content.decode()
    assert "Sign out of" in page and "Stay signed in" in page
    assert page.count('action="/accounts/logout/"') == 1
    assert logged_in.get("/accounts/").status_code == 200


@pytest.mark.parametrize(
    ("uri", "accepted"),
    [
        ("https://rp.example.com/bc", True),
        ("http://127.0.0.1:9000/bc", True),
        ("http://rp.example.com/bc", False),
        ("https://rp.example.com/bc#frag", False),
    ],
)
def test_registration_takes_logout_metadata_under_the_redirect_uri_rule(
    client, initial_token, signing_keys, uri, accepted
):
    body = {
        "redirect_uris": ["https://rp.example.com/callback"],
        "backchannel_logout_uri": uri,
        "backchannel_logout_session_required": True,
        "frontchannel_logout_uri": "https://rp.example.com/fc",
    }
    response = client.post(
        "/o/register/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {initial_token}",
    )
    if accepted:
        assert response.status_code == 201, response.content
        registered = response.json()
        assert registered["backchannel_logout_uri"] == uri
        assert registered["backchannel_logout_session_required"] is True
        assert registered["frontchannel_logout_uri"] == "https://rp.example.com/fc"
    else:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client_metadata"


def test_registration_refuses_a_logout_flag_that_is_not_boolean(client, initial_token, signing_keys):
    body = {
        "redirect_uris": ["https://rp.example.com/callback"],
        "backchannel_logout_session_required": "yes",
    }
    response = client.post(
        "/o/register/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {initial_token}",
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


def test_createclient_sets_logout_uris(db, signing_keys):
    out = StringIO()
    call_command(
        "createclient",
        "CLI app",
        "--redirect-uri",
        "https://cli.example.com/cb",
        "--backchannel-logout-uri",
        "https://cli.example.com/bc",
        "--frontchannel-logout-uri",
        "https://cli.example.com/fc",
        "--frontchannel-logout-session-required",
        "--json",
        stdout=out,
    )
    from oidc_provider.models import Client

    client = Client.objects.get(client_id=json.loads(out.getvalue())["client_id"])
    assert client.backchannel_logout_uri == "https://cli.example.com/bc"
    assert client.frontchannel_logout_uri == "https://cli.example.com/fc"
    assert client.frontchannel_logout_session_required is True


def test_createclient_refuses_plain_http_logout_uri(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="https"):
        call_command(
            "createclient",
            "Bad CLI app",
            "--redirect-uri",
            "https://cli.example.com/cb",
            "--backchannel-logout-uri",
            "http://cli.example.com/bc",
            stdout=StringIO(),
        )
