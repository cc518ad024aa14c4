"""Malformed input is answered with a 4xx, never a 500 (docs/design.md, gap 14).

The test client re-raises any exception a view lets escape, so a 500 fails these tests loudly.
"""

import base64
from urllib.parse import urlencode

import pytest

from tests.conftest import authorize, basic_auth, exchange, pkce_pair, query_of
from tests.error_responses import LONG, assert_json_error, assert_page


def valid_params(rp, **extra) -> dict:
    _verifier, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "st",
        "nonce": "nn",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


# --- the cases docs/design.md, gap 14 lists -----------------------------------------------------------------


@pytest.mark.parametrize("query", ["client_id=%zz&scope=openid", "client_id=abc%", "scope=%E", "%"])
def test_malformed_authorize_bad_percent_encoding_is_error_page(query, browser, db):
    assert_page(browser.get("/o/authorize/", QUERY_STRING=query))


@pytest.mark.parametrize("query", ["x=%zz", "grant_type=%G1"])
def test_malformed_token_bad_percent_encoding_in_query_is_json_400(query, client, rp):
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        QUERY_STRING=query,
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert_json_error(response)


def test_malformed_token_bad_percent_encoding_in_body_is_json_400(client, rp):
    response = client.post(
        "/o/token/",
        b"grant_type=client_credentials&scope=%zz",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert_json_error(response)


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\x7f"],
)
def test_malformed_token_multipart_without_boundary_is_json_400(content_type, client, db):
    response = client.post("/o/token/", b"--x\r\ngrant_type\r\n", content_type=content_type)
    assert_json_error(response)


def test_malformed_token_device_grant_without_device_code(client, make_client):
    device = "urn:ietf:params:oauth:grant-type:device_code"
    tv = make_client(redirect_uris=[], post_logout_redirect_uris=[], public=True, grant_types=[device])
    response = client.post("/o/token/", {"grant_type": device, "client_id": tv.client_id})
    # RFC 8628 §3.4: device_code is required (DOT answered a 500).
    assert_json_error(response, error="invalid_request")


@pytest.mark.parametrize(
    "data", [{}, {"allow": "1"}, {"request_id": ""}, {"request_id": LONG, "allow": "1"}, {"client_id": "x"}]
)
@pytest.mark.parametrize("path", ["/o/authorize/", "/o/authorize/consent/"])
def test_malformed_consent_post_without_fields_is_error_page(path, data, logged_in, rp):
    assert_page(logged_in.post(path, data))


@pytest.mark.parametrize("hint", ["id_token", "access_token", "refresh_token", "bogus", ""])
@pytest.mark.parametrize("token", ["garbage", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", LONG])
def test_malformed_introspection_of_garbage_is_inactive(token, hint, client, rp):
    response = client.post(
        "/o/introspect/",
        {"token": token, "token_type_hint": hint},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_malformed_prompt_none_never_500(rp, client, logged_in):
    for http in (client, logged_in):
        response = http.get("/o/authorize/", valid_params(rp, prompt="none"))
        assert response.status_code == 302
        assert query_of(response["Location"])["error"] in {"login_required", "consent_required"}


# --- NUL characters (PostgreSQL cannot compare text containing NUL) ---------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/o/authorize/", "client_id=a%00b&response_type=code"),
        ("/o/logout/", "client_id=%00"),
        ("/o/logout/", "id_token_hint=%00&post_logout_redirect_uri=https://rp.example.com/logged-out"),
    ],
)
def test_malformed_nul_in_query_is_error_page(path, query, browser, db):
    assert_page(browser.get(path, QUERY_STRING=query))


def test_malformed_nul_in_authorization_parameter_is_error_page(logged_in, rp):
    for name in ("client_id", "redirect_uri", "scope", "nonce", "state"):
        params = valid_params(rp)
        params[name] += "\x00"
        assert_page(logged_in.get("/o/authorize/", params))


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"},
        {"grant_type": "authorization_code", "code": "c\x00", "client_id": "x", "code_verifier": "v" * 43},
        {"grant_type": "refresh_token", "refresh_token": "r\x00", "client_id": "x"},
        {"grant_type": "client_credentials\x00"},
    ],
)
def test_malformed_nul_in_token_request_is_json_400(data, client, db):
    assert_json_error(client.post("/o/token/", data))


@pytest.mark.parametrize("credentials", [b"a\x00b:secret", b"a%00b:secret", b"client:se\x00cret"])
def test_malformed_nul_in_basic_credentials_is_json_400(credentials, client, db):
    header = "Basic " + base64.b64encode(credentials).decode()
    for path in ("/o/token/", "/o/introspect/", "/o/revoke/"):
        response = client.post(
            path, {"grant_type": "client_credentials", "token": "t"}, HTTP_AUTHORIZATION=header
        )
        assert_json_error(response)


@pytest.mark.parametrize("path", ["/o/introspect/", "/o/revoke/"])
def test_malformed_nul_in_token_parameter_is_json_400(path, client, rp):
    response = client.post(
        path,
        {"token": "t\x00", "client_id": "x\x00"},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert_json_error(response)


def test_malformed_nul_in_cors_origin_is_refused(client, db):
    response = client.options("/o/userinfo/", HTTP_ORIGIN="https://a\x00b.example.com")
    assert response.status_code == 400
    assert "Access-Control-Allow-Origin" not in response


# --- other shapes of bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["client_id=%FF%FE&scope=openid", "client_id=\xff\xfe", "scope=\xc3"])
def test_malformed_non_utf8_query_is_error_page(query, browser, db):
    # Raw bytes arrive latin-1 decoded in WSGI's QUERY_STRING; Django replaces invalid UTF-8.
    assert_page(browser.get("/o/authorize/", QUERY_STRING=query))


def test_malformed_non_utf8_token_body_is_4xx(client, rp):
    response = client.post(
        "/o/token/",
        b"grant_type=client_credentials&client_id=\xff\xfe&client_secret=\xc3",
        content_type="application/x-www-form-urlencoded",
    )
    assert_json_error(response, status=401, error="invalid_client")


@pytest.mark.parametrize(
    "header",
    ["Basic !!!", "Basic /w==", "Basic", "Basic " + base64.b64encode(b"nocolon").decode(), "Digest x"],
)
def test_malformed_basic_credentials_are_invalid_client(header, client, db):
    response = client.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=header)
    assert_json_error(response, status=401, error="invalid_client")


@pytest.mark.parametrize("header", ["Bearer ", "Bearer", "Bearer a b", "Bearer \xff\xfe", "bearer x", LONG])
def test_malformed_userinfo_authorization_header_is_401(header, client, db):
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_very_long_parameters_authorize(logged_in, rp):
    assert_page(logged_in.get("/o/authorize/", valid_params(rp, client_id=LONG)))
    assert_page(logged_in.get("/o/authorize/", valid_params(rp, redirect_uri="https://x/" + LONG)))
    for name in ("nonce", "code_challenge"):
        response = logged_in.get("/o/authorize/", valid_params(rp, **{name: LONG}))
        assert response.status_code == 302
        assert query_of(response["Location"])["error"] == "invalid_request"
    response = logged_in.get("/o/authorize/", valid_params(rp, scope="openid " + LONG))
    assert query_of(response["Location"])["error"] == "invalid_scope"


def test_malformed_long_state_is_returned_intact(logged_in, rp):
    state = "s" * 5000
    result = authorize(logged_in, rp, state=state)
    assert query_of(result.response["Location"])["state"] == state


def test_malformed_very_long_parameters_token(client, rp):
    for data in (
        {
            "grant_type": "authorization_code",
            "code": LONG,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": LONG,
        },
        {"grant_type": "refresh_token", "refresh_token": LONG},
        {"grant_type": "client_credentials", "scope": LONG},
    ):
        response = client.post(
            "/o/token/", data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret)
        )
        assert 400 <= response.status_code < 500
        assert "access_token" not in response.json()


@pytest.mark.parametrize("name", ["state", "redirect_uri", "scope", "response_type", "client_id"])
def test_malformed_duplicate_authorize_parameter_is_error_page(name, logged_in, rp):
    # RFC 6749 §3.1: parameters must not repeat; which copy is meant cannot be known, so the
    # error is not sent anywhere.
    params = valid_params(rp)
    query = urlencode(params) + "&" + urlencode({name: params[name]})
    assert_page(logged_in.get("/o/authorize/", QUERY_STRING=query))


@pytest.mark.parametrize("repeated", ["code", "grant_type", "code_verifier", "client_id"])
def test_malformed_duplicate_token_parameters(repeated, logged_in, rp, client):
    # RFC 6749 §3.2: request parameters must not be included more than once.
    result = authorize(logged_in, rp)
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": result.verifier,
        "client_id": rp.client_id,
    }
    body = urlencode(data) + "&" + urlencode({repeated: data[repeated]})
    response = client.post(
        "/o/token/",
        body.encode(),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert_json_error(response)


def test_malformed_json_token_body_is_refused(client, rp):
    response = client.post(
        "/o/token/",
        b'{"grant_type": "client_credentials"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    # RFC 6749 §4.1.3: the body is form-encoded; JSON carries no grant_type.
    assert_json_error(response)


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_malformed_token_wrong_method_is_405(method, client, db):
    assert getattr(client, method)("/o/token/").status_code == 405


@pytest.mark.parametrize("max_age", ["9" * 5000, "0" * 5000 + "1", "1e3", "1.5", " 10", "\u0663"])
def test_malformed_max_age_never_500(max_age, logged_in, rp):
    response = logged_in.get("/o/authorize/", valid_params(rp, max_age=max_age))
    assert response.status_code in {200, 302}


def test_malformed_id_token_hint_at_authorize(logged_in, rp):
    for hint in ("garbage", "a.b.c", "eyJhbGciOiJub25lIiwia2lkIjp7fX0.e30.", LONG):
        response = logged_in.get("/o/authorize/", valid_params(rp, id_token_hint=hint))
        assert response.status_code == 302
        assert query_of(response["Location"])["error"] == "invalid_request"


def test_malformed_logout_hint_never_500(logged_in, rp, client):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    tampered = tokens["id_token"][:-4] + "AAAA"
    for hint in (tampered, "..", "e30.e30.e30", LONG):
        response = logged_in.get("/o/logout/", {"id_token_hint": hint})
        assert response.status_code == 400
