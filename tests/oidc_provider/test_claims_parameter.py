"""The claims request parameter (OIDC Core 1.0 §5.5), through authorize → consent → token → UserInfo."""

import json
from urllib.parse import urlsplit

import pytest

from accounts.mfa.models import TOTPAuthenticator
from oidc_provider.models import Consent
from tests.accounts.conftest import totp_code
from tests.conftest import PASSWORD, authorize, exchange, pkce_pair, query_of, validate_id_token
from tests.oauth import refresh
from tests.tokens import claims_of

USERINFO = "/o/userinfo/"
STEP = "/accounts/mfa/authenticate/"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def authorization_request(browser, rp, **extra):
    """Send an authorization request as ``rp`` and return the response, unanswered."""
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "xyz",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return browser.get("/o/authorize/", params)


def tokens(browser, rp, http, *, scope="openid", claims: dict | None = None, **extra) -> dict:
    if claims is not None:
        extra["claims"] = json.dumps(claims)
    response = exchange(http, rp, authorize(browser, rp, scope=scope, **extra))
    assert response.status_code == 200, response.content
    return response.json()


def id_token_claims(http, rp, body: dict) -> dict:
    return validate_id_token(body["id_token"], jwks=http.get("/o/jwks/").json(), audience=rp.client_id)


# --- malformed parameters: invalid_request at the client's redirect URI, never a 500 ---------------


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "{",
        "[]",
        '["id_token"]',
        "null",
        "42",
        '"claims"',
        '{"id_token": []}',
        '{"userinfo": "email"}',
        '{"id_token": {"email": 1}}',
        '{"id_token": {"email": "yes"}}',
        '{"userinfo": {"email": {"essential": "true"}}}',
        '{"userinfo": {"email": {"values": "a"}}}',
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"userinfo": {f"claim{i}": None for i in range(2000)}}),
    ],
    ids=[
        "not-json",
        "truncated",
        "array",
        "array-of-names",
        "null",
        "number",
        "string",
        "member-array",
        "member-string",
        "claim-number",
        "claim-string",
        "essential-not-bool",
        "values-not-array",
        "deeply-nested",
        "huge",
    ],
)
def test_claims_parameter_malformed_is_invalid_request(logged_in, rp, value):
    response = authorization_request(logged_in, rp, claims=value)
    assert response.status_code == 302
    assert response["Location"].startswith(rp.redirect_uri)
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request"
    assert query["state"] == "xyz"


def test_claims_parameter_malformed_with_prompt_none_is_still_invalid_request(logged_in, rp):
    response = authorization_request(logged_in, rp, claims="[1]", prompt="none")
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_claims_parameter_unknown_members_and_claims_are_ignored(logged_in, rp, client, user):
    # OIDC Core 1.0 §5.5: members not understood MUST be ignored.
    claims = {"id_token": {"no_such_claim": None, "email": {"x-extension": 1}}, "vp_token": {}, "other": 1}
    body = tokens(logged_in, rp, client, scope="openid email", claims=claims)
    id_claims = id_token_claims(client, rp, body)
    assert "no_such_claim" not in id_claims
    assert id_claims["email"] == user.email


def test_claims_parameter_is_advertised(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["claims_parameter_supported"] is True
    assert document["claim_types_supported"] == ["normal"]


# --- claims asked for by name --------------------------------------------------------------------


def test_claims_parameter_id_token_member_without_its_scope_after_consent(logged_in, rp, client, user):
    claims = {"id_token": {"email": {"essential": True}, "given_name": None}}
    page = authorization_request(logged_in, rp, claims=json.dumps(claims))
    # The consent page lists the claims asked for one by one.
    assert page.status_code == 200
    listed = page.content.decode()
    assert 'data-claim="email"' in listed and 'data-claim="given_name"' in listed
    assert "Your email address" in listed and "Your first name" in listed

    body = tokens(logged_in, rp, client, claims=claims)
    id_claims = id_token_claims(client, rp, body)
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["given_name"] == "Alice"
    # Only what was asked for: the rest of the profile scope is not released.
    assert "family_name" not in id_claims
    # The ID token member is no UserInfo request.
    info = client.get(USERINFO, **bearer(body["access_token"])).json()
    assert info == {"sub": user.subject}


def test_claims_parameter_userinfo_member_released_by_userinfo_only(logged_in, rp, client, user):
    body = tokens(logged_in, rp, client, claims={"userinfo": {"phone_number": None, "address": None}})
    info = client.get(USERINFO, **bearer(body["access_token"])).json()
    assert info["phone_number"] == "+441632960000"
    assert info["address"] == {"locality": "Oxford", "country": "GB"}
    assert "phone_number" not in id_token_claims(client, rp, body)


def test_claims_parameter_userinfo_claims_survive_refresh(logged_in, rp, client):
    body = tokens(
        logged_in,
        rp,
        client,
        scope="openid offline_access",
        claims={"userinfo": {"email": None}, "id_token": {"family_name": None}},
    )
    renewed = refresh(client, rp, body["refresh_token"])
    assert renewed.status_code == 200, renewed.content
    renewed = renewed.json()
    assert client.get(USERINFO, **bearer(renewed["access_token"])).json()["email"] == "alice@example.com"
    # OIDC Core 1.0 §12.2: the refreshed ID token carries the claims the first one did.
    assert claims_of(renewed["id_token"])["family_name"] == "Liddell"


def test_claims_parameter_consent_is_remembered_per_claim(logged_in, rp, client, user):
    claims = json.dumps({"userinfo": {"email": None}})
    authorize(logged_in, rp, scope="openid", claims=claims)
    consent = Consent.objects.get(user=user, client=rp.model)
    assert consent.claims == ["email"]
    # The same claims again: no consent page.
    again = authorization_request(logged_in, rp, claims=claims)
    assert again.status_code == 302 and "code" in query_of(again["Location"])
    # Another claim: asked again, and with prompt=none refused (OIDC Core 1.0 §3.1.2.6).
    other = json.dumps({"userinfo": {"phone_number": None}})
    assert authorization_request(logged_in, rp, claims=other).status_code == 200
    silent = authorization_request(logged_in, rp, claims=other, prompt="none")
    assert query_of(silent["Location"])["error"] == "consent_required"


def test_claims_parameter_claim_of_a_granted_scope_needs_no_separate_consent(logged_in, rp):
    claims = json.dumps({"id_token": {"email": None}})
    page = authorization_request(logged_in, rp, scope="openid email", claims=claims)
    assert page.status_code == 200
    assert 'data-claim="email"' not in page.content.decode()


def test_claims_parameter_cannot_reach_a_scope_the_client_may_not_have(logged_in, rp, client, user):
    # groups goes only to clients staff allowed it (Client.release_groups): asking by name is ignored.
    body = tokens(logged_in, rp, client, claims={"id_token": {"groups": None}, "userinfo": {"groups": None}})
    assert "groups" not in id_token_claims(client, rp, body)
    assert "groups" not in client.get(USERINFO, **bearer(body["access_token"])).json()


def test_claims_parameter_essential_claim_without_value_is_absent(logged_in, rp, client, user):
    # OIDC Core 1.0 §5.5.1: an unavailable essential claim is no error; it is simply not returned.
    body = tokens(logged_in, rp, client, claims={"id_token": {"nickname": {"essential": True}}})
    assert "nickname" not in id_token_claims(client, rp, body)


def test_claims_parameter_value_does_not_change_the_released_value(logged_in, rp, client):
    body = tokens(logged_in, rp, client, claims={"id_token": {"email": {"value": "mallory@example.com"}}})
    assert id_token_claims(client, rp, body)["email"] == "alice@example.com"


def test_claims_parameter_without_openid_is_ignored(logged_in, rp):
    # Not an OpenID Connect request: the parameter means nothing (and a malformed one is no error).
    response = authorization_request(logged_in, rp, scope="profile", claims="[not json")
    assert response.status_code == 200


# --- sub with a value (OIDC Core 1.0 §5.5.1) -------------------------------------------------------


def test_claims_parameter_sub_value_of_the_signed_in_user(logged_in, rp, client, user):
    body = tokens(logged_in, rp, client, claims={"id_token": {"sub": {"value": user.subject}}})
    assert id_token_claims(client, rp, body)["sub"] == user.subject


def test_claims_parameter_sub_value_of_someone_else_asks_for_sign_in(logged_in, rp):
    claims = json.dumps({"id_token": {"sub": {"value": "someone-else"}}})
    response = authorization_request(logged_in, rp, claims=claims)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    silent = authorization_request(logged_in, rp, claims=claims, prompt="none")
    assert query_of(silent["Location"])["error"] == "login_required"


def test_claims_parameter_sub_value_never_gets_tokens_for_another_user(logged_in, rp):
    claims = json.dumps({"id_token": {"sub": {"value": "someone-else"}}})
    login = authorization_request(logged_in, rp, claims=claims)
    # Alice signs in again, as the sign-in page asks, and is still not the requested subject.
    answered = logged_in.post(login["Location"], {"username": "alice", "password": PASSWORD})
    assert answered.status_code == 302
    back = logged_in.get(answered["Location"])
    assert back.status_code == 302
    query = query_of(back["Location"])
    assert back["Location"].startswith(rp.redirect_uri)
    assert query["error"] == "access_denied" and "code" not in query


# --- acr (OIDC Core 1.0 §5.5.1.1) -------------------------------------------------------------------


def test_claims_parameter_essential_acr_mfa_steps_up(logged_in, rp, user):
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["mfa"]}}})
    response = authorization_request(logged_in, rp, claims=claims)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == STEP
    silent = authorization_request(logged_in, rp, claims=claims, prompt="none")
    assert query_of(silent["Location"])["error"] == "interaction_required"


def test_claims_parameter_essential_acr_mfa_is_reported_after_the_step(browser, rp, user, client):
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    browser.post(STEP, {"method": "totp", "code": totp_code(device.bin_key)})
    body = tokens(browser, rp, client, claims={"id_token": {"acr": {"essential": True, "value": "mfa"}}})
    assert id_token_claims(client, rp, body)["acr"] == "mfa"


def test_claims_parameter_essential_acr_pwd_is_met_and_reported(logged_in, rp, client):
    body = tokens(logged_in, rp, client, claims={"id_token": {"acr": {"essential": True, "values": ["pwd"]}}})
    assert id_token_claims(client, rp, body)["acr"] == "pwd"


def test_claims_parameter_essential_acr_that_cannot_be_met_fails(logged_in, rp):
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:example:gold"]}}})
    response = authorization_request(logged_in, rp, claims=claims)
    assert response["Location"].startswith(rp.redirect_uri)
    assert query_of(response["Location"])["error"] == "unmet_authentication_requirements"


def test_claims_parameter_voluntary_acr_that_cannot_be_met_is_no_error(logged_in, rp, client):
    body = tokens(logged_in, rp, client, claims={"id_token": {"acr": {"values": ["urn:example:gold"]}}})
    assert id_token_claims(client, rp, body)["acr"] == "pwd"


def test_claims_parameter_allowed_claims_are_listed_with_the_connected_app(logged_in, rp):
    authorize(logged_in, rp, scope="openid", claims=json.dumps({"userinfo": {"phone_number": None}}))
    page = logged_in.get("/account/apps/").content.decode()
    assert 'data-claim="phone_number"' in page and "Your phone number" in page


@pytest.mark.parametrize(("essential", "reported"), [(True, "pwd"), (False, "mfa")])
def test_claims_parameter_acr_reported_for_an_mfa_sign_in(browser, rp, user, client, essential, reported):
    # §5.5.1.1: an essential request gets one of its values (an mfa sign-in meets pwd); a voluntary
    # one gets the sign-in's own.
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    browser.post(STEP, {"method": "totp", "code": totp_code(device.bin_key)})
    claims = {"id_token": {"acr": {"essential": essential, "values": ["pwd"]}}}
    assert id_token_claims(client, rp, tokens(browser, rp, client, claims=claims))["acr"] == reported


def test_claims_parameter_malformed_with_an_unregistered_redirect_uri_is_never_redirected(logged_in, rp):
    response = authorization_request(logged_in, rp, claims="not json", redirect_uri="https://evil.example/cb")
    assert response.status_code == 400
    assert "Location" not in response
