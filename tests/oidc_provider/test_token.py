"""The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; OIDC Core 1.0 §3.1.3, §11, §12)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.authentication import SESSION_KEY
from oidc_provider.models import RefreshToken
from tests.conftest import (
    AuthorizationResult,
    authorize,
    basic_auth,
    exchange,
    pkce_pair,
    query_of,
    validate_id_token,
)

TOKEN = "/o/token/"


def refresh(http, rp, refresh_token: str, **extra):
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": rp.client_id,
        "client_secret": rp.client_secret,
        **extra,
    }
    return http.post(TOKEN, data)


def jwks(http) -> dict:
    return http.get("/o/jwks/").json()


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    response = exchange(client, rp, authorize(logged_in, rp))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def machine(make_client, signing_keys):
    return make_client(name="Billing job", redirect_uris=[], grant_types=["client_credentials"])


# --- authorization_code ---------------------------------------------------------------------------


def test_token_authorization_code_response(logged_in, rp, client, user):
    result = authorize(logged_in, rp)
    response = exchange(client, rp, result)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    # RFC 6749 §5.1: token responses must not be cached.
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    claims = validate_id_token(
        body["id_token"],
        jwks=jwks(client),
        audience=rp.client_id,
        nonce=result.nonce,
        access_token=body["access_token"],
    )
    assert claims["sub"] == user.subject
    assert claims["azp"] == rp.client_id


def test_token_code_with_basic_auth(logged_in, rp, client):
    result = authorize(logged_in, rp)
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": result.verifier,
    }
    response = client.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_token_public_client_uses_pkce_without_secret(make_client, signing_keys, logged_in, client):
    rp = make_client(public=True)
    response = exchange(client, rp, authorize(logged_in, rp))
    assert response.status_code == 200
    assert response.json()["id_token"]


def test_token_code_is_single_use(logged_in, rp, client):
    result = authorize(logged_in, rp)
    assert exchange(client, rp, result).status_code == 200
    again = exchange(client, rp, result)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_token_code_expires_within_a_minute(logged_in, rp, client, monkeypatch):
    result = authorize(logged_in, rp)
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = exchange(client, rp, result)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_code_still_valid_shortly_after_issue(logged_in, rp, client, monkeypatch):
    result = authorize(logged_in, rp)
    later = timezone.now() + timedelta(seconds=30)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert exchange(client, rp, result).status_code == 200


def test_token_code_of_another_client_is_invalid_grant(logged_in, rp, make_client, client):
    other = make_client(name="Other app")
    result = authorize(logged_in, rp)
    response = exchange(client, other, result)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_wrong_code_verifier_is_invalid_grant(logged_in, rp, client):
    result = authorize(logged_in, rp)
    result.verifier = "x" * 50
    response = exchange(client, rp, result)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_missing_code_verifier_is_refused(logged_in, rp, client):
    result = authorize(logged_in, rp)
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": rp.redirect_uri,
        "client_id": rp.client_id,
        "client_secret": rp.client_secret,
    }
    response = client.post(TOKEN, data)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}
    # The code is still unusable without the verifier: nothing was issued.
    assert "access_token" not in response.json()


def test_token_mismatched_redirect_uri_is_invalid_grant(make_client, signing_keys, logged_in, client):
    rp = make_client(redirect_uris=["https://rp.example.com/callback", "https://rp.example.com/other"])
    result = authorize(logged_in, rp)
    rp.redirect_uri = "https://rp.example.com/other"
    response = exchange(client, rp, result)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_unknown_code_is_invalid_grant_json(rp, client):
    data = {
        "grant_type": "authorization_code",
        "code": "nonsense",
        "redirect_uri": rp.redirect_uri,
        "code_verifier": "v" * 50,
        "client_id": rp.client_id,
        "client_secret": rp.client_secret,
    }
    response = client.post(TOKEN, data)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_grant"
    assert "no-store" in response["Cache-Control"]


def test_token_unsupported_grant_type(rp, client):
    data = {"grant_type": "password", "username": "alice", "password": "x", "client_id": rp.client_id}
    response = client.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("password", ["correct horse battery staple", "wrong"])
def test_token_password_grant_reveals_nothing_about_the_password(password, rp, client, user):
    # The password grant is not offered (RFC 9700 §2.4); the answer is the same whether or
    # not the password is right, so the endpoint cannot be used to guess passwords.
    data = {"grant_type": "password", "username": "alice", "password": password}
    response = client.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_missing_grant_type_is_invalid_request(rp, client):
    response = client.post(TOKEN, {}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- client authentication (RFC 6749 §2.3.1, §5.2) -----------------------------------------------


def test_token_wrong_secret_in_body_is_401_invalid_client(logged_in, rp, client):
    result = authorize(logged_in, rp)
    rp.client_secret = "wrong-" + rp.client_secret
    response = exchange(client, rp, result)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_client"


def test_token_wrong_secret_in_basic_auth_gets_basic_challenge(logged_in, rp, client):
    result = authorize(logged_in, rp)
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": result.verifier,
    }
    response = client.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # RFC 6749 §5.2: the challenge matches the scheme the client used.
    assert response["WWW-Authenticate"].startswith("Basic")


def test_token_unknown_client_is_401(client, db):
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth("nobody", "nothing"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_token_confidential_client_without_secret_is_401(logged_in, rp, client):
    result = authorize(logged_in, rp)
    rp.client_secret = None
    response = exchange(client, rp, result)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- client_credentials (RFC 6749 §4.4) ------------------------------------------------------------


def test_token_client_credentials_for_registered_client(machine, client):
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    # RFC 6749 §4.4.3: no refresh token; no user, so no ID token.
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_token_client_credentials_without_scope_gets_no_scope(machine, client):
    # RFC 6749 §3.3 / docs/design.md, gap 6: no scope asked, none given (never "every scope").
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200
    assert response.json().get("scope", "") == ""


def test_token_client_credentials_refuses_user_scopes(machine, client):
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials", "scope": "openid email"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_token_client_credentials_unauthorized_for_unregistered_client(rp, client):
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_token_authorization_code_unauthorized_for_machine_client(machine, logged_in):
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": machine.client_id,
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    # The machine client registered no redirect URI, so the error cannot be redirected.
    assert response.status_code == 400
    assert "Location" not in response


# --- scopes -----------------------------------------------------------------------------------------


def test_token_request_without_scope_gets_openid_only(logged_in, rp, client):
    # RFC 6749 §3.3 / docs/design.md, gap 6: no scope asked, the minimum given (never "every scope").
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = logged_in.get("/o/authorize/", params)
    assert [scope for scope, _text in page.context["scopes"]] == ["openid"]
    response = logged_in.post(
        "/o/authorize/consent/", {"request_id": page.context["request_id"], "allow": "1"}
    )
    result = AuthorizationResult(query_of(response["Location"])["code"], verifier, "", "", response)
    body = exchange(client, rp, result).json()
    assert body["scope"] == "openid"


# --- refresh tokens (RFC 6749 §6, OIDC Core 1.0 §11, §12, RFC 9700 §4.14.2) -------------------------


def test_token_session_bound_refresh_token_without_offline_access(logged_in, rp, client, settings):
    # OIDC Core 1.0 §11 allows it as long as it dies with the session; RP libraries built for
    # Keycloak (py-oidc-auth) require a refresh token from every code exchange.
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid profile")).json()
    assert body["refresh_token"]
    session_left = settings.SESSION_COOKIE_AGE
    assert session_left - 5 <= body["refresh_expires_in"] <= session_left
    refreshed = refresh(client, rp, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["scope"] == "openid profile"


def test_token_offline_refresh_token_expires_after_idle_lifetime(logged_in, rp, client, settings):
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid offline_access")).json()
    idle = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"] + body["expires_in"]
    assert idle - 5 <= body["refresh_expires_in"] <= idle


def test_token_session_bound_refresh_token_dies_with_the_session(logged_in, rp, client):
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid profile")).json()
    assert logged_in.post("/accounts/logout/").status_code in (200, 302)
    response = refresh(client, rp, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_token_session_bound_refresh_token_dies_when_the_session_expires(logged_in, rp, client, user):
    from accounts.models import LoginSession

    body = exchange(client, rp, authorize(logged_in, rp, scope="openid profile")).json()
    LoginSession.objects.filter(user=user).update(expires=timezone.now() - timedelta(seconds=1))
    response = refresh(client, rp, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_token_offline_refresh_token_dies_at_its_maximum_lifetime(logged_in, rp, client, settings):
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid offline_access")).json()
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OFFLINE_TOKEN_MAX_LIFETIME": 1}
    RefreshToken.objects.update(auth_time=timezone.now() - timedelta(seconds=2))
    response = refresh(client, rp, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_token_refresh_token_only_for_clients_with_refresh_grant(
    make_client, signing_keys, logged_in, client
):
    rp = make_client(grant_types=["authorization_code"])
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid offline_access")).json()
    assert "access_token" in body
    assert "refresh_token" not in body


def test_token_refresh_rotates_refresh_token(rp, client, tokens):
    response = refresh(client, rp, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["refresh_token"] and body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    # The rotated-away refresh token's access token no longer works.
    old = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert old.status_code == 401
    new = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert new.status_code == 200


def test_token_refresh_reuse_revokes_whole_family(rp, client, tokens):
    first = refresh(client, rp, tokens["refresh_token"]).json()
    second = refresh(client, rp, first["refresh_token"]).json()

    replay = refresh(client, rp, tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    # RFC 9700 §4.14.2: the newest refresh token of the family dies with it.
    newest = refresh(client, rp, second["refresh_token"])
    assert newest.status_code == 400
    assert newest.json()["error"] == "invalid_grant"
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {second['access_token']}")
    assert userinfo.status_code == 401


def test_token_refresh_by_another_client_is_refused(rp, make_client, client, tokens):
    other = make_client(name="Other app")
    response = refresh(client, other, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # The rightful client can still use it.
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_token_refresh_cannot_widen_scope(rp, client, tokens):
    response = refresh(client, rp, tokens["refresh_token"], scope="openid profile email phone")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_token_refresh_may_narrow_scope(rp, client, tokens):
    response = refresh(client, rp, tokens["refresh_token"], scope="openid email offline_access")
    assert response.status_code == 200
    assert set(response.json()["scope"].split()) == {"openid", "email", "offline_access"}


def test_token_refreshed_id_token_keeps_auth_time_and_amr(logged_in, rp, client, user):
    login_time = int(time.time()) - 500
    session = logged_in.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "auth_time": login_time}
    session.save()
    result = authorize(logged_in, rp)
    tokens = exchange(client, rp, result).json()
    original = validate_id_token(tokens["id_token"], jwks=jwks(client), audience=rp.client_id)

    body = refresh(client, rp, tokens["refresh_token"]).json()
    claims = validate_id_token(
        body["id_token"], jwks=jwks(client), audience=rp.client_id, access_token=body["access_token"]
    )
    # OIDC Core 1.0 §12.2: same iss, sub, aud and auth_time as the original ID token.
    assert claims["auth_time"] == original["auth_time"] == login_time
    assert claims["amr"] == original["amr"] == ["pwd"]
    assert claims["sub"] == original["sub"] == user.subject
    assert claims["aud"] == original["aud"]

    # Still so after another rotation, even when the user has since logged in again.
    logged_in.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    again = refresh(client, rp, body["refresh_token"]).json()
    assert validate_id_token(again["id_token"], jwks=jwks(client), audience=rp.client_id)["auth_time"] == (
        login_time
    )


def test_token_refresh_unknown_token_is_invalid_grant(rp, client):
    response = refresh(client, rp, "not-a-refresh-token")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_refresh_grant_unauthorized_for_client_without_it(make_client, signing_keys, client):
    rp = make_client(grant_types=["authorization_code"])
    response = refresh(client, rp, "anything")
    assert response.status_code == 400
    assert response.json()["error"] in {"unauthorized_client", "invalid_grant"}


# --- lifetimes (docs/design.md, gap 6) ----------------------------------------------------------------------


def test_token_access_and_id_token_live_at_most_an_hour(rp, client, tokens):
    assert 0 < tokens["expires_in"] <= 3600
    claims = validate_id_token(tokens["id_token"], jwks=jwks(client), audience=rp.client_id)
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_token_access_token_expires_when_lifetime_passes(rp, client, tokens, monkeypatch):
    later = timezone.now() + timedelta(seconds=tokens["expires_in"] + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert response.status_code == 401


def test_token_client_credentials_without_scope_for_client_with_both_grants(
    make_client, client, signing_keys
):
    both = make_client(grant_types=["authorization_code", "client_credentials"])
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(both.client_id, both.client_secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == ""
    assert "id_token" not in response.json()


def test_token_preflight_allows_registered_origin_only(make_client, client, signing_keys):
    make_client(allowed_origins=["https://spa.example.com"], public=True)
    ok = client.options(
        "/o/token/", HTTP_ORIGIN="https://spa.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == "https://spa.example.com"
    assert "POST" in ok["Access-Control-Allow-Methods"]
    other = client.options("/o/token/", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other


def test_token_basic_auth_for_one_client_and_body_client_id_of_another_is_invalid_request(
    make_client, signing_keys, client
):
    first = make_client(name="First", grant_types=["client_credentials"], redirect_uris=[])
    second = make_client(name="Second", grant_types=["client_credentials"], redirect_uris=[])
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials", "client_id": second.client_id},
        HTTP_AUTHORIZATION=basic_auth(first.client_id, first.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- retries within the grace window (RFC 9700 §4.14.2) ---------------------------------------------


def test_token_refresh_retry_within_grace_gets_the_same_successor(rp, client, tokens):
    first = refresh(client, rp, tokens["refresh_token"])
    retry = refresh(client, rp, tokens["refresh_token"])
    assert retry.status_code == 200, retry.content
    assert retry.json()["refresh_token"] == first.json()["refresh_token"]
    assert retry.json()["access_token"] == first.json()["access_token"]
    assert retry.json()["id_token"] == first.json()["id_token"]
    # Nothing was revoked: the successor goes on working.
    assert refresh(client, rp, first.json()["refresh_token"]).status_code == 200
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1


def test_token_refresh_retry_after_grace_revokes_the_family(rp, client, tokens, settings):
    first = refresh(client, rp, tokens["refresh_token"]).json()
    grace = settings.PORCHLIGHT["REFRESH_REUSE_GRACE"]
    RefreshToken.objects.filter(revoked__isnull=False).update(
        revoked=timezone.now() - timedelta(seconds=grace + 1)
    )
    replay = refresh(client, rp, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(client, rp, first["refresh_token"]).status_code == 400


def test_token_refresh_reuse_with_grace_off_revokes_at_once(rp, client, tokens, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "REFRESH_REUSE_GRACE": 0}
    first = refresh(client, rp, tokens["refresh_token"]).json()
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 400
    assert refresh(client, rp, first["refresh_token"]).status_code == 400


def test_token_refresh_retry_response_is_stored_encrypted(rp, client, tokens):
    first = refresh(client, rp, tokens["refresh_token"]).json()
    rotated = RefreshToken.objects.get(revoked__isnull=False)
    assert rotated.retry_response_encrypted
    stored = " ".join(str(value) for value in RefreshToken.objects.values_list())
    assert first["refresh_token"] not in stored and first["access_token"] not in stored
