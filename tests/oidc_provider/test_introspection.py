"""Token introspection (RFC 7662): only the token's client, or a resource server allowed to."""

import pytest

from oidc_provider.models import AccessToken, RefreshToken
from tests.conftest import ISSUER, authorize, basic_auth, exchange
from tests.oauth import INTROSPECT, introspect

INACTIVE = {"active": False}


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    return exchange(client, rp, authorize(logged_in, rp)).json()


@pytest.fixture
def resource_server(make_client, signing_keys):
    server = make_client(name="API", redirect_uris=[], grant_types=["client_credentials"])
    server.model.may_introspect = True
    server.model.save()
    return server


def test_introspection_requires_client_authentication(client, tokens):
    response = client.post(INTROSPECT, {"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "active" not in response.json()


def test_introspection_wrong_secret_is_401(client, rp, tokens):
    response = client.post(
        INTROSPECT, {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, "wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_introspection_public_client_cannot_introspect(make_client, signing_keys, logged_in, client):
    spa = make_client(name="SPA", public=True)
    token = exchange(client, spa, authorize(logged_in, spa)).json()["access_token"]
    response = client.post(INTROSPECT, {"token": token, "client_id": spa.client_id})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_introspection_own_access_token(client, rp, tokens, user):
    response = introspect(client, rp, tokens["access_token"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["active"] is True
    assert set(data["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert data["client_id"] == rp.client_id
    assert data["sub"] == user.subject
    assert data["iss"] == ISSUER
    assert data["token_type"] == "Bearer"
    assert isinstance(data["iat"], int) and isinstance(data["exp"], int)
    assert 0 < data["exp"] - data["iat"] <= 3600


def test_introspection_with_credentials_in_body(client, rp, tokens):
    response = client.post(
        INTROSPECT,
        {"token": tokens["access_token"], "client_id": rp.client_id, "client_secret": rp.client_secret},
    )
    assert response.status_code == 200
    assert response.json()["active"] is True


def test_introspection_other_clients_token_is_inactive(client, make_client, tokens):
    other = make_client(name="Other app")
    response = introspect(client, other, tokens["access_token"])
    assert response.status_code == 200
    assert response.json() == INACTIVE


def test_introspection_other_clients_refresh_token_is_inactive(client, make_client, tokens):
    other = make_client(name="Other app")
    assert introspect(client, other, tokens["refresh_token"]).json() == INACTIVE


def test_introspection_resource_server_may_introspect_any_token(client, rp, resource_server, tokens):
    data = introspect(client, resource_server, tokens["access_token"]).json()
    assert data["active"] is True
    assert data["client_id"] == rp.client_id


def test_introspection_refresh_token(client, rp, tokens, user):
    for hint in ({}, {"token_type_hint": "refresh_token"}, {"token_type_hint": "access_token"}):
        data = introspect(client, rp, tokens["refresh_token"], **hint).json()
        assert data["active"] is True, hint
        assert data["client_id"] == rp.client_id
        assert data["sub"] == user.subject
        assert data["iss"] == ISSUER
        assert "offline_access" in data["scope"].split()
        assert data["token_type"] == "refresh_token"
        assert data["iat"] < data["exp"]


def test_introspection_rotated_refresh_token_is_inactive(client, rp, tokens):
    rotated = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert rotated.status_code == 200
    assert introspect(client, rp, tokens["refresh_token"]).json() == INACTIVE
    assert introspect(client, rp, rotated.json()["refresh_token"]).json()["active"] is True


def test_introspection_expired_access_token_is_inactive(client, rp, tokens):
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    assert introspect(client, rp, tokens["access_token"]).json() == INACTIVE


def test_introspection_revoked_refresh_token_is_inactive(client, rp, tokens):
    for token in RefreshToken.objects.all():
        token.revoke()
    assert introspect(client, rp, tokens["refresh_token"]).json() == INACTIVE
    assert introspect(client, rp, tokens["access_token"]).json() == INACTIVE


def test_introspection_client_credentials_token(client, resource_server):
    issued = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(resource_server.client_id, resource_server.client_secret),
    ).json()
    data = introspect(client, resource_server, issued["access_token"]).json()
    assert data["active"] is True
    # RFC 9068 §2.2: with no end user, the subject is the client.
    assert data["sub"] == resource_server.client_id


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "%%%",
        "x" * 5000,
        "\u00e9\u4e2d\U0001f600",
    ],
)
@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token", "id_token", "nonsense"])
def test_introspection_unparseable_token_is_inactive(token, hint, client, rp):
    extra = {"token_type_hint": hint} if hint else {}
    response = introspect(client, rp, token, **extra)
    assert response.status_code == 200
    assert response.json() == INACTIVE


def test_introspection_id_token_is_inactive(client, rp, tokens):
    # Only access and refresh tokens are introspectable; an ID token is not a credential.
    for hint in (None, "id_token"):
        extra = {"token_type_hint": hint} if hint else {}
        response = introspect(client, rp, tokens["id_token"], **extra)
        assert response.status_code == 200
        assert response.json() == INACTIVE


def test_introspection_missing_token_is_invalid_request(client, rp):
    response = client.post(INTROSPECT, {}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_introspection_get_is_not_allowed(client, rp, tokens):
    response = client.get(
        INTROSPECT,
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 405
