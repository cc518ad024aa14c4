"""The validator's per-request state is its own: no request parameter can stand in for it."""

import pytest

from tests.conftest import authorize, basic_auth, exchange

# Names the validator once kept its state under on oauthlib's request, and the one it uses now.
STATE_NAMES = [
    "porchlight_state",
    "_retry_response",
    "_login_session",
    "_grant",
    "_locked_grant",
    "_issued_refresh_token",
    "_rotated_refresh_token",
    "auth_context",
    "token_family",
]


@pytest.mark.parametrize("name", STATE_NAMES)
def test_request_state_code_exchange_ignores_a_parameter_named_like_it(name, logged_in, rp, client):
    response = exchange(client, rp, authorize(logged_in, rp), **{name: "x"})
    assert response.status_code == 200, response.content[:300]
    assert {"access_token", "refresh_token", "id_token"} <= set(response.json())


@pytest.mark.parametrize("name", STATE_NAMES)
def test_request_state_refresh_ignores_a_parameter_named_like_it(name, logged_in, rp, client):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], name: "x"}
    response = client.post("/o/token/", data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["refresh_token"] != tokens["refresh_token"]
