"""Signed UserInfo responses (OIDC Core 1.0 §5.3.2; OIDC Registration 1.0 §2 userinfo_signed_response_alg)."""

import base64
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from joserfc import jwt as joserfc_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey
from jwcrypto import jwk, jwt

from oidc_provider.models import Algorithm, Client
from oidc_provider.services import client_create
from tests.admin_forms import REDIRECT, change_client_in_admin
from tests.conftest import ISSUER, RegisteredClient, authorize, exchange
from tests.oauth import register
from tests.tokens import header_of

USERINFO = "/o/userinfo/"
APP_ORIGIN = "https://app.example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def access_token_for(browser, rp: RegisteredClient, http, scope: str = "openid email profile") -> str:
    response = exchange(http, rp, authorize(browser, rp, scope=scope))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def verify_against_jwks(http, token: str) -> dict:
    """Verify ``token`` as an RP does: by its kid, against the provider's published JWKS."""
    header = header_of(token)
    key = jwk.JWKSet.from_json(http.get("/o/jwks/").content).get_key(header["kid"])
    assert key is not None, "the kid must be published in JWKS"
    return json.loads(jwt.JWT(jwt=token, key=key, algs=[header["alg"]], expected_type="JWS").claims)


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA"])
def test_signed_userinfo_verifies_against_jwks(logged_in, client, make_client, signing_keys, user, algorithm):
    rp = make_client(userinfo_algorithm=algorithm)
    token = access_token_for(logged_in, rp, client)
    response = client.get(USERINFO, headers=bearer(token))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    signed = response.content.decode()
    assert header_of(signed)["alg"] == algorithm
    claims = verify_against_jwks(client, signed)
    # OIDC Core 1.0 §5.3.2: iss and aud (the client) are added to the claims.
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id
    assert claims["email"] == user.email
    # The same claims as the plain response would carry.
    plain = make_client(name="Plain app")
    plain_claims = client.get(USERINFO, headers=bearer(access_token_for(logged_in, plain, client))).json()
    assert {key: value for key, value in claims.items() if key not in {"iss", "aud"}} == plain_claims


def test_plain_userinfo_stays_json(logged_in, client, rp):
    response = client.get(USERINFO, headers=bearer(access_token_for(logged_in, rp, client)))
    assert response["Content-Type"] == "application/json"
    assert "iss" not in response.json()


def test_hs256_userinfo_verifies_with_client_secret(logged_in, client, make_client, signing_keys):
    rp = make_client(userinfo_algorithm=Algorithm.HS256)
    response = client.get(USERINFO, headers=bearer(access_token_for(logged_in, rp, client)))
    assert response["Content-Type"] == "application/jwt"
    signed = response.content.decode()
    assert header_of(signed) == {"alg": "HS256", "typ": "JWT"}  # no kid: nothing is published
    assert rp.client_secret
    key = OctKey.import_key(rp.client_secret.encode())
    claims = joserfc_jwt.decode(signed, key, algorithms=["HS256"]).claims
    assert claims["aud"] == rp.client_id and claims["iss"] == ISSUER
    wrong = OctKey.import_key(b"not-the-secret-not-the-secret-32b")
    with pytest.raises(BadSignatureError):
        joserfc_jwt.decode(signed, wrong, algorithms=["HS256"])


def test_hs256_userinfo_refused_for_public_client(db):
    with pytest.raises(ValidationError) as error:
        client_create(
            name="Public",
            redirect_uris=["https://rp.example.com/cb"],
            public=True,
            userinfo_algorithm="HS256",
        )
    assert "userinfo_signed_response_alg" in error.value.message_dict


def test_signed_userinfo_has_cors_for_registered_origin(logged_in, client, make_client, signing_keys):
    rp = make_client(userinfo_algorithm=Algorithm.ES256, allowed_origins=[APP_ORIGIN])
    token = access_token_for(logged_in, rp, client)
    response = client.get(USERINFO, headers={**bearer(token), "Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    other = client.get(USERINFO, headers={**bearer(token), "Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other


def test_signed_userinfo_errors_stay_json(client, make_client, signing_keys):
    make_client(userinfo_algorithm=Algorithm.ES256)
    response = client.get(USERINFO, headers=bearer("no-such-token"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_discovery_lists_userinfo_signing_algorithms(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert (
        document["userinfo_signing_alg_values_supported"] == document["id_token_signing_alg_values_supported"]
    )
    assert set(document["userinfo_signing_alg_values_supported"]) == {
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
        "HS256",
    }


def test_registered_client_gets_signed_userinfo(client, signing_keys, initial_token, logged_in):
    body = register(
        client,
        {"redirect_uris": ["https://dyn.example.com/cb"], "userinfo_signed_response_alg": "ES256"},
        token=initial_token,
    ).json()
    assert body["userinfo_signed_response_alg"] == "ES256"
    model = Client.objects.get(client_id=body["client_id"])
    rp = RegisteredClient(body["client_id"], body["client_secret"], "https://dyn.example.com/cb", model)
    response = client.get(USERINFO, headers=bearer(access_token_for(logged_in, rp, client, scope="openid")))
    assert response["Content-Type"] == "application/jwt"
    assert verify_against_jwks(client, response.content.decode())["aud"] == rp.client_id


def test_registration_hs256_userinfo_keeps_secret_encrypted(client, signing_keys, initial_token, logged_in):
    body = register(
        client,
        {"redirect_uris": ["https://dyn.example.com/cb"], "userinfo_signed_response_alg": "HS256"},
        token=initial_token,
    ).json()
    model = Client.objects.get(client_id=body["client_id"])
    assert model.client_secret_encrypted
    rp = RegisteredClient(body["client_id"], body["client_secret"], "https://dyn.example.com/cb", model)
    signed = client.get(USERINFO, headers=bearer(access_token_for(logged_in, rp, client, scope="openid")))
    key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(body["client_secret"].encode()).decode().rstrip("="))
    claims = json.loads(jwt.JWT(jwt=signed.content.decode(), key=key, algs=["HS256"]).claims)
    assert claims["aud"] == rp.client_id


def test_createclient_and_updateclient_set_userinfo_algorithm(db, signing_keys):
    out = StringIO()
    call_command(
        "createclient", "Cmd app", "--redirect-uri", REDIRECT, "--userinfo-alg", "PS256", "--json", stdout=out
    )
    client_id = json.loads(out.getvalue())["client_id"]
    assert Client.objects.get(client_id=client_id).userinfo_signed_response_alg == "PS256"
    out = StringIO()
    call_command("updateclient", client_id, "--userinfo-alg", "none", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["userinfo_signed_response_alg"] == "" and shown["changed"] == [
        "userinfo_signed_response_alg"
    ]
    with pytest.raises(CommandError, match="HS256 signs with the client secret"):
        call_command("updateclient", client_id, "--userinfo-alg", "HS256", stdout=StringIO())
    assert Client.objects.get(client_id=client_id).userinfo_signed_response_alg == ""


def test_admin_hs256_userinfo_needs_new_secret(staff, make_client):
    registered = make_client(redirect_uris=[REDIRECT])
    response = change_client_in_admin(staff, registered.model, userinfo_signed_response_alg="HS256")
    assert response.status_code == 200
    assert "set or reset the secret in the same change" in response.content.decode()
    response = change_client_in_admin(
        staff,
        registered.model,
        userinfo_signed_response_alg="HS256",
        new_client_secret="Zq8xW3vN7pL2kR9tY4mB6hJ1cF5dG0sA",
    )
    assert response.status_code == 302
    stored = Client.objects.get(pk=registered.model.pk)
    assert stored.userinfo_signed_response_alg == "HS256" and stored.client_secret_encrypted
