"""CORS as a browser app sees it: every endpoint it calls, success and error, its origin or another."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from oidc_provider.models import Client, GrantType
from oidc_provider.services import client_create
from tests.admin_forms import add_client_in_admin
from tests.conftest import authorize, basic_auth

ORIGIN = "https://spa.example.com"
LOOPBACK = "http://127.0.0.1:5173"
OTHER = "https://evil.example.com"


@pytest.fixture
def spa(make_client, signing_keys):
    return make_client(name="Browser app", public=True, allowed_origins=[ORIGIN, LOOPBACK])


@pytest.fixture
def spa_tokens(spa, logged_in, client):
    response = redeem(client, spa, authorize(logged_in, spa), ORIGIN)
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    return response.json()


def redeem(http, spa, result, origin: str):
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": spa.redirect_uri,
        "code_verifier": result.verifier,
        "client_id": spa.client_id,
    }
    return http.post("/o/token/", data, HTTP_ORIGIN=origin)


def readable_by(response) -> str | None:
    return response.headers.get("Access-Control-Allow-Origin")


# --- token endpoint ------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ORIGIN, LOOPBACK])
def test_cors_token_success_readable_by_registered_origin(spa, logged_in, client, origin):
    response = redeem(client, spa, authorize(logged_in, spa), origin)
    assert response.status_code == 200
    assert readable_by(response) == origin
    assert "Origin" in response["Vary"]


def test_cors_token_success_not_readable_by_other_origin(spa, logged_in, client):
    response = redeem(client, spa, authorize(logged_in, spa), OTHER)
    assert response.status_code == 200
    assert readable_by(response) is None


def test_cors_token_invalid_grant_readable_by_registered_origin(spa, spa_tokens, client):
    # An expired or revoked refresh token: the app must read invalid_grant, not a network error.
    data = {"grant_type": "refresh_token", "refresh_token": "no-such-token", "client_id": spa.client_id}
    response = client.post("/o/token/", data, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert readable_by(response) == ORIGIN
    assert "WWW-Authenticate" in response["Access-Control-Expose-Headers"]
    other = client.post("/o/token/", data, HTTP_ORIGIN=OTHER)
    assert other.status_code == 400
    assert readable_by(other) is None


def test_cors_token_refresh_readable_by_loopback_origin(spa, spa_tokens, client):
    data = {
        "grant_type": "refresh_token",
        "refresh_token": spa_tokens["refresh_token"],
        "client_id": spa.client_id,
    }
    response = client.post("/o/token/", data, HTTP_ORIGIN=LOOPBACK)
    assert response.status_code == 200
    assert readable_by(response) == LOOPBACK


def test_cors_token_request_errors_readable(spa, client):
    missing = client.post("/o/token/", {"client_id": spa.client_id}, HTTP_ORIGIN=ORIGIN)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert readable_by(missing) == ORIGIN


def test_cors_token_invalid_client_readable_with_its_challenge(spa, client):
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth("no-such-client", "secret"),
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 401
    assert readable_by(response) == ORIGIN
    assert "WWW-Authenticate" in response["Access-Control-Expose-Headers"]


def test_cors_token_error_not_readable_by_another_clients_origin(spa, make_client, client):
    # The request names a client that did not register the origin: its answer stays closed.
    other = make_client(name="Other app", public=True, allowed_origins=["https://other.example.com"])
    data = {"grant_type": "refresh_token", "refresh_token": "nope", "client_id": other.client_id}
    response = client.post("/o/token/", data, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert readable_by(response) is None


def test_cors_token_without_origin_has_no_cors_headers(spa, client):
    response = client.post("/o/token/", {"client_id": spa.client_id})
    assert readable_by(response) is None


# --- revocation ---------------------------------------------------------------------------------


def test_cors_revocation_readable_by_registered_origin(spa, spa_tokens, client):
    data = {"token": spa_tokens["refresh_token"], "client_id": spa.client_id}
    response = client.post("/o/revoke/", data, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert readable_by(response) == ORIGIN
    # RFC 7009 §2.2: no content, so no Content-Type a browser library would have to accept.
    assert response.content == b""
    assert "Content-Type" not in response
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": spa_tokens["refresh_token"],
            "client_id": spa.client_id,
        },
        HTTP_ORIGIN=ORIGIN,
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_cors_revocation_not_readable_by_other_origin(spa, spa_tokens, client):
    data = {"token": spa_tokens["access_token"], "client_id": spa.client_id}
    response = client.post("/o/revoke/", data, HTTP_ORIGIN=OTHER)
    assert response.status_code == 200
    assert readable_by(response) is None


def test_cors_revocation_error_readable(spa, client):
    response = client.post("/o/revoke/", {"token": "x", "client_id": "no-such-client"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401
    assert readable_by(response) == ORIGIN


def test_cors_revocation_rate_limited_readable(spa, client, settings):
    Client.objects.filter(pk=spa.model.pk).update(rate_limit="1/60")
    data = {"token": "x", "client_id": spa.client_id}
    client.post("/o/revoke/", data, HTTP_ORIGIN=ORIGIN)
    refused = client.post("/o/revoke/", data, HTTP_ORIGIN=ORIGIN)
    assert refused.status_code == 429
    assert readable_by(refused) == ORIGIN
    assert "Retry-After" in refused["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("path", ["/o/token/", "/o/revoke/", "/o/device/", "/o/userinfo/"])
def test_cors_preflight(spa, client, path):
    ok = client.options(path, HTTP_ORIGIN=LOOPBACK, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204
    assert readable_by(ok) == LOOPBACK
    assert "POST" in ok["Access-Control-Allow-Methods"]
    refused = client.options(path, HTTP_ORIGIN=OTHER, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert readable_by(refused) is None


# --- device authorization -------------------------------------------------------------------------


def test_cors_device_authorization_success_and_error(make_client, client, signing_keys):
    device_app = make_client(
        name="Device app",
        public=True,
        grant_types=[GrantType.DEVICE_CODE.value],
        post_logout_redirect_uris=(),
        redirect_uris=(),
        allowed_origins=[ORIGIN],
    )
    ok = client.post("/o/device/", {"client_id": device_app.client_id, "scope": "openid"}, HTTP_ORIGIN=ORIGIN)
    assert ok.status_code == 200, ok.content
    assert readable_by(ok) == ORIGIN
    bad = client.post("/o/device/", {"client_id": "no-such-client"}, HTTP_ORIGIN=ORIGIN)
    assert bad.status_code in {400, 401}
    assert readable_by(bad) == ORIGIN
    assert readable_by(client.post("/o/device/", {"client_id": "no-such-client"}, HTTP_ORIGIN=OTHER)) is None


# --- UserInfo -----------------------------------------------------------------------------------


def test_cors_userinfo_success_and_401(spa, spa_tokens, client):
    ok = client.get(
        "/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {spa_tokens['access_token']}", HTTP_ORIGIN=LOOPBACK
    )
    assert ok.status_code == 200
    assert readable_by(ok) == LOOPBACK
    bad = client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer expired", HTTP_ORIGIN=LOOPBACK)
    assert bad.status_code == 401
    assert readable_by(bad) == LOOPBACK
    assert "WWW-Authenticate" in bad["Access-Control-Expose-Headers"]


# --- public documents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/o/jwks/"]
)
def test_cors_public_documents_readable_by_any_origin(client, signing_keys, path):
    response = client.get(path, HTTP_ORIGIN=OTHER)
    assert response.status_code == 200
    assert readable_by(response) == "*"
    preflight = client.options(path, HTTP_ORIGIN=OTHER, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight.status_code == 204
    assert readable_by(preflight) == "*"


def test_cors_discovery_with_trailing_slash_is_the_same_document(client, signing_keys):
    plain = client.get("/.well-known/openid-configuration")
    slashed = client.get("/.well-known/openid-configuration/")
    assert slashed.status_code == 200
    assert slashed.json() == plain.json()


# --- which origins a client may register -------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:5173"])
def test_cors_public_client_may_register_loopback_http_origin(db, signing_keys, origin):
    client, _ = client_create(
        name="Local SPA", redirect_uris=[f"{origin}/callback"], public=True, allowed_origins=[origin]
    )
    assert client.allowed_origins == origin


def test_cors_confidential_client_may_not_register_http_origin(db, signing_keys):
    with pytest.raises(ValidationError) as refused:
        client_create(
            name="Server app", redirect_uris=["https://app.example.com/cb"], allowed_origins=[LOOPBACK]
        )
    assert "public clients" in str(refused.value.message_dict["allowed_origins"])


@pytest.mark.parametrize(
    "origin",
    [
        "http://app.example.com",
        "https://app.example.com/path",
        "javascript:alert(1)",
        "https://app.example.com?x=1",
    ],
)
def test_cors_refuses_bad_origins(db, signing_keys, origin):
    with pytest.raises(ValidationError) as refused:
        client_create(
            name="Bad SPA",
            redirect_uris=["https://app.example.com/cb"],
            public=True,
            allowed_origins=[origin],
        )
    assert "allowed_origins" in refused.value.message_dict


def test_cors_createclient_refuses_http_origin_for_confidential_client(db, signing_keys):
    with pytest.raises(CommandError) as refused:
        call_command(
            "createclient",
            "Server app",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--allowed-origin",
            "http://localhost:3000",
        )
    assert "https" in str(refused.value)


def test_cors_public_loopback_app_signs_out_to_its_registered_http_page(
    make_client, logged_in, client, signing_keys
):
    # A browser app on the developer's machine: RP-Initiated Logout returns to its loopback page.
    local = make_client(
        name="Local SPA",
        public=True,
        redirect_uris=[f"{LOOPBACK}/callback"],
        post_logout_redirect_uris=[f"{LOOPBACK}/logged-out"],
        allowed_origins=[LOOPBACK],
    )
    tokens = redeem(client, local, authorize(logged_in, local, scope="openid"), LOOPBACK).json()
    response = logged_in.get(
        "/o/logout/",
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": f"{LOOPBACK}/logged-out"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LOOPBACK}/logged-out"
    # Only the page it registered: another port is refused with the error page.
    other = logged_in.get(
        "/o/logout/",
        {"client_id": local.client_id, "post_logout_redirect_uri": "http://127.0.0.1:9999/logged-out"},
    )
    assert "Location" not in other


def test_cors_admin_accepts_loopback_origin_for_single_page_app(staff):
    response = add_client_in_admin(staff, kind="native", allowed_origins="http://localhost:5173")
    assert response.status_code == 200
    assert Client.objects.get(name="Admin-made app").allowed_origins == "http://localhost:5173"


def test_cors_admin_accepts_native_scheme_for_native_app_only(staff):
    refused = add_client_in_admin(staff, kind="web", redirect_uris="com.example.app:/cb")
    assert "RFC 8252" in refused.content.decode()
    assert not Client.objects.exists()
    add_client_in_admin(staff, kind="native", redirect_uris="com.example.app:/cb")
    assert Client.objects.get(name="Admin-made app").redirect_uris == "com.example.app:/cb"
