"""Authorization requests by POST, form_post responses, per-client PKCE, and codes used once.

OIDC Core 1.0 §3.1.2.1 (GET and POST), OAuth 2.0 Form Post Response Mode, RFC 7636 and RFC 9700
§2.1.1 (PKCE), RFC 6749 §4.1.2 (a code is used once; a replay revokes what it issued).
"""

import re
import secrets
from html import unescape
from urllib.parse import urlencode

import pytest
from django.test import Client as BrowserClient

from oidc_provider.models import AccessToken, Grant, RefreshToken
from tests.conftest import ISSUER, PASSWORD, AuthorizationResult, exchange, pkce_pair, query_of

AUTHORIZE = "/o/authorize/"
CONSENT = "/o/authorize/consent/"


def request_for(rp, **overrides) -> tuple[dict, str]:
    """Return a valid authorization request for ``rp`` and its PKCE verifier (None drops a parameter)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "st-" + secrets.token_urlsafe(6),
        "nonce": "n-" + secrets.token_urlsafe(6),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {key: value for key, value in params.items() if value is not None}, verifier


def posted_fields(page) -> tuple[str, dict[str, str]]:
    """Return the form_post page's target and the fields it posts."""
    html = page.content.decode()
    form = re.search(r'<form id="response" method="post" action="([^"]*)"', html)
    assert form, html
    action = unescape(form.group(1))
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', html)}
    return action, fields


def allow(browser, page):
    return browser.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})


# --- POST authorization requests ---------------------------------------------------------------


def test_authorize_post_request_is_answered_like_get_without_csrf_token(rp, logged_in):
    browser = BrowserClient(enforce_csrf_checks=True)
    browser.cookies = logged_in.cookies
    # The RP's page posts the request; it carries no CSRF token of ours and needs none.
    params, verifier = request_for(rp)
    page = browser.post(AUTHORIZE, params)
    assert page.status_code == 200 and "request_id" in page.context


def test_authorize_post_consent_answer_still_needs_csrf_token(rp, logged_in):
    params, _ = request_for(rp)
    page = logged_in.get(AUTHORIZE, params)
    strict = BrowserClient(enforce_csrf_checks=True)
    strict.cookies = logged_in.cookies
    response = strict.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert response.status_code == 403
    assert not Grant.objects.exists()


def test_authorize_post_request_completes_the_code_flow(rp, logged_in, client):
    params, verifier = request_for(rp)
    page = logged_in.post(AUTHORIZE, params)
    response = allow(logged_in, page)
    query = query_of(response["Location"])
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    tokens = exchange(client, rp, AuthorizationResult(query["code"], verifier, params["nonce"], "", response))
    assert tokens.status_code == 200 and tokens.json()["id_token"]


def test_authorize_post_of_anonymous_user_returns_to_the_request_after_login(rp, user, browser):
    params, _ = request_for(rp)
    response = browser.post(AUTHORIZE, params)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    signed_in = browser.post(
        response["Location"], {"username": "alice", "password": PASSWORD}
    )  # the login form posts back to its own URL with next=
    back = browser.get(signed_in["Location"])
    assert back.status_code == 200 and "request_id" in back.context


def test_authorize_post_with_explicit_utf8_charset_is_decoded(rp, logged_in):
    params, _ = request_for(rp, state="état")
    page = logged_in.post(
        AUTHORIZE, urlencode(params).encode(), content_type="application/x-www-form-urlencoded; charset=UTF-8"
    )
    assert page.status_code == 200 and "request_id" in page.context


@pytest.mark.parametrize("charset", ["utf-7", "iso-8859-1", "utf-16"])
def test_authorize_post_in_a_charset_django_cannot_decode_is_400(charset, rp, logged_in):
    params, _ = request_for(rp, state="état")
    # generic() sends the bytes as they are, whatever the declared charset.
    page = logged_in.generic(
        "POST",
        AUTHORIZE,
        urlencode(params).encode(),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert page.status_code == 400
    assert b"cannot be parsed" in page.content
    assert not Grant.objects.exists()


# --- response_mode=form_post --------------------------------------------------------------------


def test_form_post_success_posts_code_state_and_iss_to_the_redirect_uri(rp, logged_in, client):
    params, verifier = request_for(rp, response_mode="form_post")
    page = allow(logged_in, logged_in.get(AUTHORIZE, params))
    assert page.status_code == 200
    action, fields = posted_fields(page)
    assert action == rp.redirect_uri
    assert set(fields) == {"code", "state", "iss"}
    assert fields["state"] == params["state"] and fields["iss"] == ISSUER
    policy = page["Content-Security-Policy"]
    assert "form-action https://rp.example.com" in policy and "script-src 'sha256-" in policy
    assert "default-src 'none'" in policy and "no-store" in page["Cache-Control"]
    assert b"<noscript>" in page.content  # a button for browsers without JavaScript
    result = AuthorizationResult(fields["code"], verifier, params["nonce"], "", page)
    assert exchange(client, rp, result).status_code == 200


def test_form_post_error_is_posted_too(rp, browser, user):
    params, _ = request_for(rp, response_mode="form_post", prompt="none")
    page = browser.get(AUTHORIZE, params)
    action, fields = posted_fields(page)
    assert action == rp.redirect_uri
    assert fields["error"] == "login_required" and fields["state"] == params["state"]


def test_form_post_denied_consent_posts_access_denied(rp, logged_in):
    params, _ = request_for(rp, response_mode="form_post")
    page = logged_in.get(AUTHORIZE, params)
    answer = logged_in.post(CONSENT, {"request_id": page.context["request_id"], "deny": "1"})
    _, fields = posted_fields(answer)
    assert fields["error"] == "access_denied"


@pytest.mark.parametrize("mode", ["fragment", "web_message", ""])
def test_authorize_unsupported_response_mode_is_invalid_request(mode, rp, logged_in):
    params, _ = request_for(rp, response_mode=mode)
    response = logged_in.get(AUTHORIZE, params)
    if mode == "":
        assert response.status_code == 200  # empty means the default, query
        return
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_discovery_lists_both_response_modes(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["response_modes_supported"] == ["query", "form_post"]


# --- PKCE per client (RFC 7636, RFC 9700 §2.1.1) ------------------------------------------------


def test_pkce_required_by_default_for_confidential_clients(rp, logged_in):
    params, _ = request_for(rp, code_challenge=None, code_challenge_method=None)
    response = logged_in.get(AUTHORIZE, params)
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_pkce_always_required_for_public_clients(make_client, signing_keys, logged_in):
    public = make_client(public=True)
    public.model.require_pkce = False  # cannot be turned off for a public client
    public.model.save()
    params, _ = request_for(public, code_challenge=None, code_challenge_method=None)
    response = logged_in.get(AUTHORIZE, params)
    assert query_of(response["Location"])["error"] == "invalid_request"
    assert not Grant.objects.exists()


@pytest.fixture
def no_pkce_rp(make_client, signing_keys):
    registered = make_client(name="Certification client")
    registered.model.require_pkce = False
    registered.model.save()
    return registered


def test_pkce_off_confidential_client_completes_flow_with_nonce(no_pkce_rp, logged_in, client):
    params, _ = request_for(no_pkce_rp, code_challenge=None, code_challenge_method=None)
    response = allow(logged_in, logged_in.get(AUTHORIZE, params))
    code = query_of(response["Location"])["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": no_pkce_rp.redirect_uri,
        "client_id": no_pkce_rp.client_id,
        "client_secret": no_pkce_rp.client_secret,
    }
    tokens = client.post("/o/token/", data)
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["id_token"]


def test_pkce_off_confidential_client_must_send_nonce(no_pkce_rp, logged_in):
    params, _ = request_for(no_pkce_rp, code_challenge=None, code_challenge_method=None, nonce=None)
    response = logged_in.get(AUTHORIZE, params)
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request" and "nonce" in query["error_description"]


def test_pkce_off_client_that_sends_a_challenge_must_send_the_verifier(no_pkce_rp, logged_in, client):
    params, _ = request_for(no_pkce_rp)
    code = query_of(allow(logged_in, logged_in.get(AUTHORIZE, params))["Location"])["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": no_pkce_rp.redirect_uri,
        "client_id": no_pkce_rp.client_id,
        "client_secret": no_pkce_rp.client_secret,
    }
    response = client.post("/o/token/", data)
    assert response.status_code == 400


# --- codes: hashed, used once, a replay revokes ------------------------------------------------


def code_for(rp, logged_in) -> AuthorizationResult:
    params, verifier = request_for(rp, scope="openid offline_access")
    response = allow(logged_in, logged_in.get(AUTHORIZE, params))
    return AuthorizationResult(
        query_of(response["Location"])["code"], verifier, params["nonce"], "", response
    )


def test_code_is_stored_only_as_a_hash(rp, logged_in):
    result = code_for(rp, logged_in)
    assert Grant.objects.count() == 1
    assert not Grant.objects.filter(code=result.code).exists()


def test_code_replay_is_refused_and_revokes_the_first_exchange(rp, logged_in, client):
    result = code_for(rp, logged_in)
    first = exchange(client, rp, result).json()
    replay = exchange(client, rp, result)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code issued is revoked.
    assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {first['access_token']}").status_code == 401
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert refreshed.status_code == 400
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_code_of_another_client_is_refused_and_not_used_up(rp, make_client, logged_in, client):
    result = code_for(rp, logged_in)
    thief = make_client(name="Thief")
    stolen = exchange(client, thief, result)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert exchange(client, rp, result).status_code == 200


def test_code_with_a_wrong_verifier_is_refused_and_not_used_up(rp, logged_in, client):
    # Someone holding an intercepted code but not the verifier (what PKCE is for) cannot burn it.
    result = code_for(rp, logged_in)
    stolen = AuthorizationResult(result.code, "x" * 43, result.nonce, "", result.response)
    refused = exchange(client, rp, stolen)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert exchange(client, rp, result).status_code == 200
