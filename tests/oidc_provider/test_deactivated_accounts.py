"""A deactivated account's tokens are dead wherever a token is honoured (tokens.token_usable).

Deactivation revokes them (accounts' lifecycle), so each test deactivates the account behind the
services' back, as a request racing the deactivation would see it.
"""

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import authorize, basic_auth, exchange

INTROSPECT = "/o/introspect/"


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    return exchange(client, rp, authorize(logged_in, rp)).json()


def deactivate(user) -> None:
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_introspection_of_a_deactivated_accounts_token_is_inactive(client, rp, tokens, user, kind):
    deactivate(user)
    response = client.post(
        INTROSPECT,
        {"token": tokens[kind], "token_type_hint": kind},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_userinfo_refuses_a_deactivated_accounts_token(client, tokens, user):
    deactivate(user)
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_refresh_of_a_deactivated_accounts_token_is_invalid_grant(client, rp, tokens, user):
    deactivate(user)
    response = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
