"""The authorization code flow through the Django test client."""

import json

from tests.conftest import authorize, exchange, validate_id_token


def test_code_flow_issues_verifiable_id_token(logged_in, rp, client, user):
    result = authorize(logged_in, rp)
    assert result.code
    response = exchange(client, rp, result)
    assert response.status_code == 200, response.content
    body = response.json()
    jwks = client.get("/o/jwks/").json()
    claims = validate_id_token(
        body["id_token"],
        jwks=jwks,
        audience=rp.client_id,
        nonce=result.nonce,
        access_token=body["access_token"],
    )
    assert claims["sub"] == user.subject
    assert claims["email"] == "alice@example.com"
    assert "auth_time" in claims and claims["amr"] == ["pwd"]
    assert "refresh_token" in body


def test_userinfo_returns_scoped_claims(logged_in, rp, client):
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid email")).json()
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["email"] == "alice@example.com"
    assert "given_name" not in data
