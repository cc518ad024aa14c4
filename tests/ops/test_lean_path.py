"""Protocol endpoints run without the browser middleware, and lose none of their protections."""

import pytest

from tests.conftest import authorize, basic_auth, exchange

# Headers the security middleware gives every response; CSP and friends join when configured.
SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Cross-Origin-Opener-Policy",
    "Content-Security-Policy",
    "Permissions-Policy",
    "Strict-Transport-Security",
    "X-Request-Id",
)


@pytest.fixture
def machine(make_client, signing_keys):
    return make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])


def test_lean_path_token_request_carries_no_session(logged_in, machine):
    response = logged_in.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200
    assert "access_token" in response.json()
    # A signed-in browser's cookie is neither read nor renewed on the protocol path.
    assert "Set-Cookie" not in response
    assert "Cookie" not in response.get("Vary", "")


def test_lean_path_pages_for_people_keep_their_session(logged_in):
    response = logged_in.get("/account/apps/")
    assert response.status_code == 200
    assert b"Signed in as" in response.content


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/.well-known/openid-configuration"),
        ("get", "/o/jwks/"),
        ("post", "/o/token/"),
        ("get", "/o/userinfo/"),
        ("post", "/o/introspect/"),
        ("post", "/o/revoke/"),
        ("post", "/o/device/"),
    ],
)
def test_lean_path_responses_carry_the_security_headers_pages_get(client, signing_keys, method, path):
    page = client.get("/accounts/login/")
    response = getattr(client, method)(path)
    # HSTS is sent only with an https issuer; the tests' issuer is http on loopback.
    expected = [name for name in SECURITY_HEADERS if name != "Strict-Transport-Security"]
    assert [name for name in expected if name not in page] == []
    assert [name for name in expected if name not in response] == []
    assert "Set-Cookie" not in response


def test_lean_path_userinfo_ignores_a_signed_in_browser(logged_in, signing_keys):
    response = logged_in.get("/o/userinfo/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="userinfo"'


def test_lean_path_malformed_token_request_is_invalid_request(client, signing_keys):
    response = client.post("/o/token/?code=%zz", {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_lean_path_userinfo_and_introspection_answer_for_a_real_token(logged_in, client, rp):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 200
    assert "Set-Cookie" not in userinfo
    introspection = client.post(
        "/o/introspect/",
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert introspection.json()["active"] is True
    assert introspection.json()["sub"] == userinfo.json()["sub"]
