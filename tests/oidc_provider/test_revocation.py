"""Token revocation (RFC 7009): a client revokes only its own tokens."""

import pytest

from tests.conftest import authorize, basic_auth, exchange
from tests.oauth import refresh_status, userinfo_status

REVOKE = "/o/revoke/"


def revoke(http, caller, token: str, **extra):
    return http.post(
        REVOKE,
        {"token": token, **extra},
        HTTP_AUTHORIZATION=basic_auth(caller.client_id, caller.client_secret),
    )


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    return exchange(client, rp, authorize(logged_in, rp)).json()


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_revocation_of_access_token_stops_userinfo(hint, client, rp, tokens):
    assert userinfo_status(client, tokens["access_token"]) == 200
    extra = {"token_type_hint": hint} if hint else {}
    response = revoke(client, rp, tokens["access_token"], **extra)
    assert response.status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401


def test_revocation_of_access_token_also_ends_its_refresh_token(client, rp, tokens):
    # RFC 7009 §2.1 allows it; otherwise the refresh token would mint a new access token at once.
    assert revoke(client, rp, tokens["access_token"]).status_code == 200
    assert refresh_status(client, rp, tokens["refresh_token"]) == 400


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_revocation_of_refresh_token(hint, client, rp, tokens):
    extra = {"token_type_hint": hint} if hint else {}
    assert revoke(client, rp, tokens["refresh_token"], **extra).status_code == 200
    assert refresh_status(client, rp, tokens["refresh_token"]) == 400
    # RFC 7009 §2.1: revoking a refresh token also invalidates its access tokens.
    assert userinfo_status(client, tokens["access_token"]) == 401


def test_revocation_of_another_clients_token_has_no_effect(client, make_client, tokens, rp):
    other = make_client(name="Other app")
    # RFC 7009 §2.2: 200 whatever the outcome, so the caller learns nothing.
    assert revoke(client, other, tokens["access_token"]).status_code == 200
    assert revoke(client, other, tokens["refresh_token"]).status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 200
    assert refresh_status(client, rp, tokens["refresh_token"]) == 200


def test_revocation_by_public_client_of_confidential_clients_token_has_no_effect(client, make_client, tokens):
    spa = make_client(name="SPA", public=True)
    response = client.post(REVOKE, {"token": tokens["access_token"], "client_id": spa.client_id})
    assert response.status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_revocation_by_public_client_of_its_own_token(client, make_client, signing_keys, logged_in):
    spa = make_client(name="SPA", public=True)
    token = exchange(client, spa, authorize(logged_in, spa)).json()["access_token"]
    response = client.post(REVOKE, {"token": token, "client_id": spa.client_id})
    assert response.status_code == 200
    assert userinfo_status(client, token) == 401


def test_revocation_of_unknown_token_is_200(client, rp):
    assert revoke(client, rp, "never-issued").status_code == 200


def test_revocation_requires_client_authentication(client, rp, tokens):
    response = client.post(REVOKE, {"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_revocation_with_wrong_secret_is_401(client, rp, tokens):
    response = client.post(
        REVOKE, {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, "wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_revocation_without_token_is_invalid_request(client, rp):
    response = client.post(REVOKE, {}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_revocation_with_unknown_hint_still_revokes(client, rp, tokens):
    # RFC 7009 §2.1: the hint is only a hint; the server extends its search.
    assert revoke(client, rp, tokens["access_token"], token_type_hint="something").status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401
