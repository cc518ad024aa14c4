"""prompt=select_account, login_hint, logout_hint and RFC 9207 iss, as the user and the RP see them."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import PASSWORD, authorize, exchange, pkce_pair, query_of, validate_id_token

LOGOUT = "/o/logout/"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def request_params(rp, **extra) -> dict:
    _verifier, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD, email="bob@example.com")


@pytest.fixture
def trusted(make_client, signing_keys):
    # No consent page in the way: what the user sees is the account choice alone.
    return make_client(name="Trusted app", skip_consent=True)


# --- prompt=select_account --------------------------------------------------------------------


def test_select_account_shows_who_is_signed_in(logged_in, trusted):
    response = logged_in.get("/o/authorize/", request_params(trusted, prompt="select_account"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Continue as alice" in page
    assert "Use another account" in page
    assert "Trusted app" in page


def test_select_account_continue_issues_code_for_the_same_user(logged_in, trusted, client, signing_keys):
    page = logged_in.get("/o/authorize/", request_params(trusted, prompt="select_account"))
    continued = logged_in.get(page.context["continue_url"])
    assert continued.status_code == 302
    location = continued["Location"]
    assert location.startswith(trusted.redirect_uri + "?")
    assert query_of(location)["code"]
    assert query_of(location)["state"] == "st-1"


def test_select_account_continue_url_does_not_work_for_another_user(logged_in, trusted, bob, browser):
    continue_url = logged_in.get("/o/authorize/", request_params(trusted, prompt="select_account")).context[
        "continue_url"
    ]
    from django.test import Client as BrowserClient

    other = BrowserClient()
    assert other.post("/accounts/login/", {"username": "bob", "password": PASSWORD}).status_code == 302
    # bob's browser with alice's choice: bob is asked himself.
    response = other.get(continue_url)
    assert response.status_code == 200
    assert "Continue as bob" in response.content.decode()


def test_select_account_use_another_account_signs_out_and_keeps_the_request(
    logged_in, trusted, bob, client, signing_keys
):
    verifier, challenge = pkce_pair()
    params = {**request_params(trusted, prompt="select_account"), "code_challenge": challenge, "nonce": "n-1"}
    page = logged_in.get("/o/authorize/", params)
    switched = logged_in.post("/o/authorize/select-account/", {"resume": page.context["resume"]})
    assert switched.status_code == 302
    # Signed out: the account page now asks for a sign-in.
    assert logged_in.get("/accounts/").status_code == 302
    login_url = switched["Location"]
    assert login_url.startswith("/accounts/login/?")
    form = logged_in.get(login_url)
    assert form.status_code == 200
    signed_in = logged_in.post(login_url, {"username": "bob", "password": PASSWORD})
    assert signed_in.status_code == 302
    # Back at the same authorization request, which no longer asks: bob chose by signing in.
    answered = logged_in.get(signed_in["Location"])
    assert answered.status_code == 302, answered.content[:300]
    code = query_of(answered["Location"])["code"]
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": trusted.redirect_uri,
            "code_verifier": verifier,
            "client_id": trusted.client_id,
            "client_secret": trusted.client_secret,
        },
    ).json()
    claims = validate_id_token(
        tokens["id_token"], jwks=signing_keys.jwks, audience=trusted.client_id, nonce="n-1"
    )
    alice_sub = validate_id_token(
        exchange(client, trusted, authorize_as_alice(trusted)).json()["id_token"],
        jwks=signing_keys.jwks,
        audience=trusted.client_id,
    )["sub"]
    assert claims["sub"] != alice_sub


def authorize_as_alice(trusted):
    from django.test import Client as BrowserClient

    alice = BrowserClient()
    assert alice.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    return authorize(alice, trusted)


def test_select_account_forged_resume_is_refused(logged_in, trusted):
    response = logged_in.post("/o/authorize/select-account/", {"resume": "https://evil.example.com/"})
    assert response.status_code == 400
    assert "Location" not in response
    # Nothing happened: still signed in.
    assert logged_in.get("/accounts/").status_code == 200


def test_select_account_without_session_is_the_sign_in_form(browser, trusted):
    response = browser.get("/o/authorize/", request_params(trusted, prompt="select_account"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_select_account_with_prompt_none_is_invalid_request(logged_in, trusted):
    response = logged_in.get("/o/authorize/", request_params(trusted, prompt="none select_account"))
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request"
    assert query["state"] == "st-1"


# --- login_hint -------------------------------------------------------------------------------


def test_login_hint_prefills_the_username(browser, trusted):
    response = browser.get("/o/authorize/", request_params(trusted, login_hint="alice"))
    form = browser.get(response["Location"])
    assert form.status_code == 200
    assert 'value="alice"' in form.content.decode()


def test_login_hint_page_is_the_same_for_unknown_accounts(browser, trusted, user):
    def form_for(hint: str) -> str:
        page = browser.get(
            browser.get("/o/authorize/", request_params(trusted, login_hint=hint, code_challenge=CHALLENGE))[
                "Location"
            ]
        )
        assert page.status_code == 200
        text = page.content.decode().replace(hint, "HINT")
        # The CSRF token and the signed time of the request differ from page to page (the time
        # also percent-encoded, in the language switcher's return address).
        return re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]*"|pl_reauth=[^"&]*|pl_reauth%3D.*?(?=%26|")'
            r'|Token": "[^"]*"',
            "",
            text,
        )

    # The existing account and an unknown one get the same form, the hint filled in.
    assert form_for("alice") == form_for("zed")
    assert 'value="HINT"' in form_for("zed")


def test_login_hint_with_markup_is_escaped(browser, trusted):
    response = browser.get("/o/authorize/", request_params(trusted, login_hint='"><script>x</script>'))
    form = browser.get(response["Location"]).content.decode()
    assert "<script>x</script>" not in form


@pytest.mark.parametrize("hint", ["a" * 151, "alice\u200bbob", "alice\tbob"])
def test_login_hint_that_is_no_username_fills_nothing(browser, trusted, hint):
    response = browser.get("/o/authorize/", request_params(trusted, login_hint=hint))
    # Not sent on to the sign-in form, and the form ignores it when sent there directly.
    assert response.status_code == 302
    assert "login_hint" not in parse_qs(urlsplit(response["Location"]).query)
    form = browser.get("/accounts/login/", {"login_hint": hint}).content.decode()
    assert 'name="username" value=' not in form


# --- RFC 9207 iss ------------------------------------------------------------------------------


def test_authorization_response_carries_iss(logged_in, trusted, client, settings):
    success = logged_in.get("/o/authorize/", request_params(trusted))
    assert query_of(success["Location"])["iss"]
    error = logged_in.get("/o/authorize/", request_params(trusted, prompt="bogus"))
    assert query_of(error["Location"])["iss"] == query_of(success["Location"])["iss"]
    assert client.get("/.well-known/openid-configuration").json()[
        "authorization_response_iss_parameter_supported"
    ]


# --- logout_hint -------------------------------------------------------------------------------


@pytest.fixture
def session_tokens(logged_in, make_client, client, signing_keys):
    rp = make_client()
    return rp, exchange(client, rp, authorize(logged_in, rp, scope="openid")).json()


def test_logout_hint_naming_the_user_signs_out(logged_in, session_tokens):
    _rp, tokens = session_tokens
    response = logged_in.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "logout_hint": "Alice@Example.com"}
    )
    assert response.status_code == 302
    assert logged_in.get("/accounts/").status_code == 302


def test_logout_hint_naming_someone_else_asks_first(logged_in, session_tokens):
    _rp, tokens = session_tokens
    response = logged_in.get(LOGOUT, {"id_token_hint": tokens["id_token"], "logout_hint": "bob"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sign out" in page and "bob" in page and "alice" in page
    # Still signed in until the user answers.
    assert logged_in.get("/accounts/").status_code == 200
