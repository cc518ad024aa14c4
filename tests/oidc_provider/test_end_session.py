"""RP-Initiated Logout 1.0: end the session, revoke the tokens bound to it, return to the app."""

import time

import pytest

from oidc_provider import keys
from oidc_provider.models import Algorithm, SigningKey
from tests.conftest import authorize, exchange, query_of
from tests.oauth import refresh_status, userinfo_status

LOGOUT = "/o/logout/"
LOGGED_OUT = "https://rp.example.com/logged-out"


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    """Tokens bound to the sign-in session (no offline_access)."""
    return exchange(client, rp, authorize(logged_in, rp, scope="openid profile")).json()


def is_logged_in(browser) -> bool:
    return browser.get("/accounts/").status_code == 200


def assert_logout_error_page(response) -> None:
    assert response.status_code == 400
    assert "Location" not in response
    assert b"We could not sign you out" in response.content


def test_end_session_with_hint_logs_out_and_returns_with_state(logged_in, rp, tokens):
    response = logged_in.get(
        LOGOUT,
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT, "state": "s-123"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(LOGGED_OUT + "?")
    # RP-Initiated Logout 1.0 §3: state is passed back unchanged.
    assert query_of(response["Location"])["state"] == "s-123"
    assert not is_logged_in(logged_in)


def test_end_session_without_state_returns_bare_uri(logged_in, rp, tokens):
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    assert response["Location"] == LOGGED_OUT


def test_end_session_accepts_expired_id_token_hint(logged_in, rp, tokens, monkeypatch):
    # RP-Initiated Logout 1.0 §2: the OP should accept an expired ID token as a hint.
    later = time.time() + 24 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    assert response["Location"] == LOGGED_OUT


def test_end_session_accepts_hint_signed_by_retired_key(logged_in, rp, tokens):
    # docs/design.md, gap 4: after a rotation, an older id_token_hint still verifies.
    SigningKey.objects.filter(state=SigningKey.State.ACTIVE, algorithm=Algorithm.RS256).update(
        state=SigningKey.State.RETIRED
    )
    keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.ACTIVE)
    keys.clear_cache()
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    assert response["Location"] == LOGGED_OUT


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example.com/",
        "https://rp.example.com/logged-out/",
        "https://rp.example.com/logged-out?next=https://evil.example.com",
        "https://rp.example.com/logged-outx",
        "http://rp.example.com/logged-out",
        "https://rp.example.com/callback",
        "//evil.example.com",
    ],
)
def test_end_session_unregistered_post_logout_redirect_uri_is_error_page(uri, logged_in, rp, tokens):
    response = logged_in.get(LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": uri})
    assert_logout_error_page(response)
    assert is_logged_in(logged_in)


def test_end_session_post_logout_redirect_uri_without_client_is_error_page(logged_in, rp):
    response = logged_in.get(LOGOUT, {"post_logout_redirect_uri": LOGGED_OUT})
    assert_logout_error_page(response)


def test_end_session_without_hint_asks_for_confirmation(logged_in, rp):
    params = {"client_id": rp.client_id, "post_logout_redirect_uri": LOGGED_OUT, "state": "s-1"}
    page = logged_in.get(LOGOUT, params)
    assert page.status_code == 200
    assert b"Sign out of Test app?" in page.content
    assert is_logged_in(logged_in)

    confirm = logged_in.post(LOGOUT, {**params, "allow": "true"})
    assert confirm.status_code == 302
    assert confirm["Location"] == LOGGED_OUT + "?state=s-1"
    assert not is_logged_in(logged_in)


def test_end_session_with_hint_for_another_user_asks_for_confirmation(
    logged_in, rp, tokens, django_user_model
):
    django_user_model.objects.create_user(username="bob", password="correct horse battery staple")
    logged_in.post("/accounts/login/", {"username": "bob", "password": "correct horse battery staple"})
    page = logged_in.get(LOGOUT, {"id_token_hint": tokens["id_token"]})
    assert page.status_code == 200
    assert b"Sign out" in page.content
    assert is_logged_in(logged_in)


def test_end_session_revokes_session_bound_tokens_of_every_app(logged_in, rp, make_client, client, tokens):
    other = make_client(name="Other app")
    other_tokens = exchange(client, other, authorize(logged_in, other, scope="openid")).json()
    assert "refresh_token" in tokens and "refresh_token" in other_tokens
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    # The sign-in session ended: every app's tokens bound to it die with it (OIDC Core §11).
    assert userinfo_status(client, tokens["access_token"]) == 401
    assert refresh_status(client, rp, tokens["refresh_token"]) == 400
    assert userinfo_status(client, other_tokens["access_token"]) == 401
    assert refresh_status(client, other, other_tokens["refresh_token"]) == 400


def test_end_session_keeps_offline_tokens(logged_in, rp, client):
    offline = exchange(client, rp, authorize(logged_in, rp, scope="openid offline_access")).json()
    response = logged_in.get(
        LOGOUT, {"id_token_hint": offline["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302 and not is_logged_in(logged_in)
    # OIDC Core 1.0 §11: offline access outlives the browser session.
    assert userinfo_status(client, offline["access_token"]) == 200
    assert refresh_status(client, rp, offline["refresh_token"]) == 200


def test_end_session_anonymous_user_with_hint_returns_to_app_and_revokes_nothing(rp, tokens, client):
    # The browser has no session here (expired, ended elsewhere, or an attacker holding an old
    # or leaked ID token): nothing to confirm, and the hint alone ends nothing.
    response = client.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert response.status_code == 302
    assert response["Location"] == LOGGED_OUT
    assert userinfo_status(client, tokens["access_token"]) == 200
    assert refresh_status(client, rp, tokens["refresh_token"]) == 200


def test_end_session_hint_from_an_earlier_session_asks_first(rp, tokens, logged_in, client):
    # Sign out and in again: the old ID token's sid is not this session's (RP-Initiated Logout 1.0 §2).
    logged_in.post("/accounts/logout/")
    logged_in.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    page = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert page.status_code == 200 and b"Sign out" in page.content
    assert is_logged_in(logged_in)
    response = logged_in.post(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT, "allow": "true"}
    )
    assert response.status_code == 302 and response["Location"] == LOGGED_OUT
    assert not is_logged_in(logged_in)


def test_end_session_unknown_client_id_is_error_page(logged_in, rp):
    response = logged_in.get(LOGOUT, {"client_id": "no-such-client", "post_logout_redirect_uri": LOGGED_OUT})
    assert_logout_error_page(response)


def test_end_session_client_id_mismatching_hint_is_error_page(logged_in, rp, make_client, tokens):
    other = make_client(name="Other app")
    response = logged_in.get(
        LOGOUT,
        {
            "id_token_hint": tokens["id_token"],
            "client_id": other.client_id,
            "post_logout_redirect_uri": LOGGED_OUT,
        },
    )
    assert_logout_error_page(response)


@pytest.mark.parametrize("hint", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_end_session_invalid_hint_is_error_page(hint, logged_in, rp):
    response = logged_in.get(LOGOUT, {"id_token_hint": hint, "post_logout_redirect_uri": LOGGED_OUT})
    assert_logout_error_page(response)
    assert is_logged_in(logged_in)


def test_end_session_hint_from_another_issuer_is_error_page(logged_in, rp, tokens, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://other.example.com"}
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert_logout_error_page(response)


def test_end_session_without_parameters_logs_out_to_own_page(logged_in, rp):
    page = logged_in.get(LOGOUT)
    assert page.status_code == 200
    response = logged_in.post(LOGOUT, {"allow": "true"})
    assert response.status_code == 302
    assert response["Location"].endswith("/accounts/logged-out/")
    assert not is_logged_in(logged_in)


def test_end_session_confirmed_without_hint_revokes_the_session_tokens(logged_in, rp, client, tokens):
    params = {"client_id": rp.client_id, "post_logout_redirect_uri": LOGGED_OUT}
    assert logged_in.get(LOGOUT, params).status_code == 200
    # Until the user confirms, nothing is revoked.
    assert userinfo_status(client, tokens["access_token"]) == 200
    assert logged_in.post(LOGOUT, {**params, "allow": "true"}).status_code == 302
    assert userinfo_status(client, tokens["access_token"]) == 401
