"""The authorization endpoint (OIDC Core 1.0 §3.1.2; RFC 6749 §4.1; RFC 7636; RFC 9207)."""

import base64
import hashlib
import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from accounts.authentication import SESSION_KEY
from oidc_provider.standard_claims import SCOPE_DESCRIPTIONS
from tests.conftest import (
    ISSUER,
    PASSWORD,
    AuthorizationResult,
    authorize,
    exchange,
    pkce_pair,
    query_of,
    validate_id_token,
)

AUTHORIZE = "/o/authorize/"
CONSENT = "/o/authorize/consent/"


def params_for(rp, **overrides) -> dict:
    """Return a valid authorization request for ``rp``; a None override drops the parameter."""
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile email",
        "state": "st-" + secrets.token_urlsafe(6),
        "nonce": "n-" + secrets.token_urlsafe(6),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def assert_error_redirect(response, rp, error: str, state: str | None) -> dict:
    """Assert an error sent back to the RP's registered redirect_uri, with state and iss."""
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(rp.redirect_uri + "?")
    query = query_of(location)
    assert query["error"] == error, query
    assert query.get("state") == state
    assert query["iss"] == ISSUER
    assert "code" not in query
    return query


def assert_error_page(response, heading: bytes = b"We could not sign you in") -> None:
    """Assert an error shown to the user, never sent anywhere (RFC 6749 §4.1.2.1)."""
    assert response.status_code == 400
    assert "Location" not in response
    assert heading in response.content


def set_auth_time(browser, auth_time: int) -> None:
    session = browser.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "auth_time": auth_time}
    session.save()


def login_again(browser, next_url: str):
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    return response["Location"]


def assert_sent_to_login(response) -> str:
    assert response.status_code == 302
    location = response["Location"]
    assert urlsplit(location).path == "/accounts/login/"
    return query_of(location)["next"]


def finish_consent(browser, response):
    """Allow on the consent page and return the redirect to the RP."""
    assert response.status_code == 200
    return browser.post(CONSENT, {"request_id": response.context["request_id"], "allow": "1"})


# --- PKCE (RFC 7636, RFC 9700 §2.1.1) -----------------------------------------------------------


@pytest.mark.parametrize("public", [False, True])
def test_authorize_requires_code_challenge(public, make_client, signing_keys, logged_in):
    rp = make_client(public=public)
    params = params_for(rp, code_challenge=None, code_challenge_method=None)
    response = logged_in.get(AUTHORIZE, params)
    query = assert_error_redirect(response, rp, "invalid_request", params["state"])
    assert "challenge" in query["error_description"].lower()


def test_authorize_requires_code_challenge_for_skip_consent_client(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    params = params_for(rp, code_challenge=None, code_challenge_method=None)
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "invalid_request", params["state"])


def test_authorize_refuses_plain_code_challenge_method(rp, logged_in):
    verifier, _challenge = pkce_pair()
    params = params_for(rp, code_challenge=verifier, code_challenge_method="plain")
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "invalid_request", params["state"])


def test_authorize_refuses_omitted_code_challenge_method(rp, logged_in):
    # RFC 7636 §4.3: an omitted method means "plain".
    params = params_for(rp, code_challenge_method=None)
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "invalid_request", params["state"])


def test_authorize_refuses_unknown_code_challenge_method(rp, logged_in):
    params = params_for(rp, code_challenge_method="S512")
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "invalid_request", params["state"])


def test_authorize_pkce_checked_before_login(rp, browser):
    # An anonymous user is not sent to log in for a request that can only fail.
    params = params_for(rp, code_challenge=None, code_challenge_method=None)
    assert_error_redirect(browser.get(AUTHORIZE, params), rp, "invalid_request", params["state"])


# --- errors that must never redirect (RFC 6749 §4.1.2.1) -------------------------------------


@pytest.mark.parametrize("logged", [False, True])
def test_authorize_unknown_client_shows_error_page(logged, rp, client, logged_in):
    http = logged_in if logged else client
    params = params_for(rp, client_id="no-such-client")
    response = http.get(AUTHORIZE, params)
    assert_error_page(response, heading=b"This app is not known to Porchlight")
    page = response.content.decode()
    # Said plainly, with a way on; the return address is not the problem, so not advised on.
    assert "The app that sent you here is not registered here, or no longer is." in page
    assert "contact whoever runs the app" in page and 'href="/accounts/"' in page
    assert "compare the return address" not in page
    # oauthlib's wording only small, for the developer, after the advice.
    technical = page.split('<details class="technical small">')[1]
    assert "Invalid client_id parameter value." in technical
    assert "Invalid client_id parameter value." not in page.split("<details")[0]


def test_authorize_missing_client_id_shows_error_page(rp, logged_in):
    response = logged_in.get(AUTHORIZE, params_for(rp, client_id=None))
    assert_error_page(response, heading=b"This app is not known to Porchlight")
    assert b"did not say which app it is" in response.content


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",
        "https://rp.example.com/callback/../evil",
        "https://rp.example.com/callback?extra=1",
        "https://rp.example.com.evil.example/callback",
        "http://rp.example.com/callback",
        "javascript:alert(1)",
    ],
)
def test_authorize_unregistered_redirect_uri_shows_error_page(redirect_uri, rp, logged_in):
    assert_error_page(logged_in.get(AUTHORIZE, params_for(rp, redirect_uri=redirect_uri)))


def test_authorize_unregistered_redirect_uri_with_prompt_none_shows_error_page(rp, browser):
    params = params_for(rp, redirect_uri="https://evil.example.com/", prompt="none")
    assert_error_page(browser.get(AUTHORIZE, params))


def test_authorize_missing_redirect_uri_shows_error_page(rp, logged_in):
    # OIDC Core 1.0 §3.1.2.1: redirect_uri is required; without it there is nowhere safe to go.
    assert_error_page(logged_in.get(AUTHORIZE, params_for(rp, redirect_uri=None)))


# --- errors sent back to the RP (OIDC Core 1.0 §3.1.2.6) -----------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        # Response types with tokens in them answer in the fragment: test_implicit_hybrid.py.
        ({"response_type": "bogus"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        # Request objects are supported (request_objects.py): an unsigned one from a client that
        # did not register "none", and a request_uri it did not register, are refused.
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request_object"),
        ({"request_uri": "https://rp.example.com/request.jwt"}, "invalid_request_uri"),
        ({"id_token_hint": "not-a-token"}, "invalid_request"),
    ],
)
def test_authorize_invalid_request_redirects_error_with_state_and_iss(overrides, error, rp, logged_in):
    params = params_for(rp, **overrides)
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, error, params["state"])


def test_authorize_error_without_state_has_no_state(rp, logged_in):
    params = params_for(rp, scope="openid admin", state=None)
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "invalid_scope", None)


def test_authorize_success_carries_state_and_iss(rp, logged_in):
    result = authorize(logged_in, rp)
    query = query_of(result.response["Location"])
    assert result.response["Location"].startswith(rp.redirect_uri + "?")
    assert query["state"] == result.state
    assert query["iss"] == ISSUER
    assert query["code"]


def test_authorize_anonymous_user_is_sent_to_login(rp, browser):
    params = params_for(rp)
    next_url = assert_sent_to_login(browser.get(AUTHORIZE, params))
    assert urlsplit(next_url).path == AUTHORIZE


def test_authorize_login_then_consent_issues_code(rp, browser, user):
    params = params_for(rp)
    next_url = assert_sent_to_login(browser.get(AUTHORIZE, params))
    back = login_again(browser, next_url)
    response = finish_consent(browser, browser.get(back))
    query = query_of(response["Location"])
    assert query["code"] and query["state"] == params["state"]


# --- prompt (OIDC Core 1.0 §3.1.2.1) ------------------------------------------------------------


def test_authorize_prompt_none_anonymous_is_login_required(rp, browser):
    params = params_for(rp, prompt="none")
    assert_error_redirect(browser.get(AUTHORIZE, params), rp, "login_required", params["state"])


def test_authorize_prompt_none_without_consent_is_consent_required(rp, logged_in):
    params = params_for(rp, prompt="none")
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "consent_required", params["state"])


def test_authorize_prompt_none_with_skip_consent_client_issues_code(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    params = params_for(rp, prompt="none")
    response = logged_in.get(AUTHORIZE, params)
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith(rp.redirect_uri)
    assert query["code"] and query["state"] == params["state"] and query["iss"] == ISSUER


def test_authorize_prompt_none_with_max_age_exceeded_is_login_required(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    set_auth_time(logged_in, int(time.time()) - 600)
    params = params_for(rp, prompt="none", max_age="60")
    assert_error_redirect(logged_in.get(AUTHORIZE, params), rp, "login_required", params["state"])


def test_authorize_prompt_consent_shows_consent_for_skip_consent_client(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    response = logged_in.get(AUTHORIZE, params_for(rp, prompt="consent"))
    assert response.status_code == 200
    assert "request_id" in response.context


def test_authorize_skip_consent_client_issues_code_without_page(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    response = logged_in.get(AUTHORIZE, params_for(rp))
    assert response.status_code == 302
    assert query_of(response["Location"])["code"]


def test_authorize_prompt_login_forces_reauthentication(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    params = params_for(rp, prompt="login")
    next_url = assert_sent_to_login(logged_in.get(AUTHORIZE, params))

    back = login_again(logged_in, next_url)
    response = logged_in.get(back)
    # After the fresh login the code is issued: no loop back to the login page.
    assert response.status_code == 302
    assert response["Location"].startswith(rp.redirect_uri)
    query = query_of(response["Location"])
    assert query["code"] and query["state"] == params["state"]


def test_authorize_prompt_login_return_url_alone_does_not_skip_login(make_client, signing_keys, logged_in):
    # The return URL is only honoured after a login that happened after it was made.
    rp = make_client(skip_consent=True)
    next_url = assert_sent_to_login(logged_in.get(AUTHORIZE, params_for(rp, prompt="login")))
    set_auth_time(logged_in, int(time.time()) - 60)
    assert_sent_to_login(logged_in.get(next_url))


def test_authorize_prompt_login_marker_cannot_be_forged(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    params = params_for(rp, prompt="login", pl_reauth="0")
    assert_sent_to_login(logged_in.get(AUTHORIZE, params))


def test_authorize_max_age_exceeded_forces_reauthentication(make_client, signing_keys, logged_in, client):
    rp = make_client(skip_consent=True)
    stale = int(time.time()) - 600
    set_auth_time(logged_in, stale)
    verifier, challenge = pkce_pair()
    params = params_for(rp, max_age="300", code_challenge=challenge)
    next_url = assert_sent_to_login(logged_in.get(AUTHORIZE, params))

    response = logged_in.get(login_again(logged_in, next_url))
    assert response.status_code == 302
    code = query_of(response["Location"])["code"]
    # OIDC Core 1.0 §2: with max_age the ID token reports the fresh login's auth_time.
    fresh = logged_in.session[SESSION_KEY]["auth_time"]
    assert fresh > stale
    result = AuthorizationResult(code, verifier, params["nonce"], params["state"], response)
    body = exchange(client, rp, result).json()
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert claims["auth_time"] == fresh


def test_authorize_max_age_within_limit_needs_no_login(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    set_auth_time(logged_in, int(time.time()) - 100)
    response = logged_in.get(AUTHORIZE, params_for(rp, max_age="3600"))
    assert response.status_code == 302
    assert query_of(response["Location"])["code"]


def test_authorize_max_age_zero_always_reauthenticates(make_client, signing_keys, logged_in):
    rp = make_client(skip_consent=True)
    set_auth_time(logged_in, int(time.time()) - 5)
    assert_sent_to_login(logged_in.get(AUTHORIZE, params_for(rp, max_age="0")))


def test_authorize_id_token_hint_for_another_user_forces_login(rp, logged_in, client, django_user_model):
    # Get an ID token for alice, then present it while bob is signed in.
    result = authorize(logged_in, rp)
    hint = exchange(client, rp, result).json()["id_token"]
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    logged_in.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert_sent_to_login(logged_in.get(AUTHORIZE, params_for(rp, id_token_hint=hint)))


# --- the ID token the code leads to (OIDC Core 1.0 §2, §3.1.3.6) ---------------------------------


def test_authorize_auth_time_is_session_login_time(rp, logged_in, client, user):
    login_time = int(time.time()) - 1234
    set_auth_time(logged_in, login_time)
    user.last_login = timezone.now() - timedelta(days=3)
    user.save(update_fields=["last_login"])
    result = authorize(logged_in, rp)
    body = exchange(client, rp, result).json()
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert claims["auth_time"] == login_time
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "pwd"


def test_authorize_nonce_and_at_hash_are_correct(rp, logged_in, client):
    result = authorize(logged_in, rp)
    body = exchange(client, rp, result).json()
    claims = validate_id_token(
        body["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=rp.client_id,
        nonce=result.nonce,
        access_token=body["access_token"],
    )
    # RS256: at_hash is the left half of SHA-256 of the access token (OIDC Core 1.0 §3.1.3.6).
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    # c_hash belongs to ID tokens from the authorization endpoint (hybrid flow), which is
    # not offered; an ID token from the token endpoint carries none (OIDC Core 1.0 §3.3.2.11).
    assert "c_hash" not in claims


def test_authorize_without_nonce_gives_id_token_without_nonce(rp, logged_in, client):
    result = authorize(logged_in, rp, nonce="")
    body = exchange(client, rp, result).json()
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert "nonce" not in claims


# --- consent -------------------------------------------------------------------------------------


def test_authorize_consent_page_describes_each_scope(rp, logged_in):
    scope = "openid profile email phone address offline_access"
    response = logged_in.get(AUTHORIZE, params_for(rp, scope=scope))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Test app" in page
    for name in scope.split():
        assert f'data-scope="{name}">{SCOPE_DESCRIPTIONS[name]}<' in page
    # Plain words, not protocol jargon.
    assert "email address" in page and "phone number" in page and "postal address" in page


def test_authorize_consent_denied_is_access_denied(rp, logged_in):
    params = params_for(rp)
    page = logged_in.get(AUTHORIZE, params)
    response = logged_in.post(CONSENT, {"request_id": page.context["request_id"], "deny": "1"})
    assert_error_redirect(response, rp, "access_denied", params["state"])


@pytest.mark.parametrize("data", [{"request_id": "unknown", "allow": "1"}, {"allow": "1"}, {}])
def test_authorize_consent_with_unknown_request_is_error_page(data, rp, logged_in):
    logged_in.get(AUTHORIZE, params_for(rp))
    assert_error_page(logged_in.post(CONSENT, data))


def test_authorize_consent_cannot_be_answered_twice(rp, logged_in):
    page = logged_in.get(AUTHORIZE, params_for(rp))
    first = logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert first.status_code == 302
    assert_error_page(logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"}))


def test_authorize_consent_ignores_posted_redirect_uri(rp, logged_in):
    # docs/design.md, gap 13: the code goes where the validated request said, whatever the form posts.
    params = params_for(rp)
    page = logged_in.get(AUTHORIZE, params)
    response = logged_in.post(
        CONSENT,
        {
            "request_id": page.context["request_id"],
            "allow": "1",
            "redirect_uri": "https://evil.example.com/steal",
            "client_id": "someone-else",
            "scope": "openid profile email phone address",
        },
    )
    assert response.status_code == 302
    assert response["Location"].startswith(rp.redirect_uri + "?")


def test_authorize_consent_posted_by_another_user_is_error_page(rp, logged_in, django_user_model):
    page = logged_in.get(AUTHORIZE, params_for(rp))
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    # Logging in as someone else flushes the session, and with it the pending request.
    logged_in.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert_error_page(logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"}))


def test_authorize_consent_by_anonymous_user_is_error_page(rp, browser):
    assert_error_page(browser.post(CONSENT, {"request_id": "x", "allow": "1"}))


def test_authorize_consent_expired_request_is_error_page(rp, logged_in, monkeypatch):
    page = logged_in.get(AUTHORIZE, params_for(rp))
    later = time.time() + 31 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert_error_page(logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"}))


def test_authorize_consent_grants_only_requested_scopes(rp, logged_in, client):
    result = authorize(logged_in, rp, scope="openid email")
    body = exchange(client, rp, result).json()
    assert set(body["scope"].split()) == {"openid", "email"}
