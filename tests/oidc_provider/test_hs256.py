"""HS256 ID tokens: signed with the client secret, for confidential clients only (OIDC Core 1.0 §10.1)."""

import base64
import hashlib
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import OctKey
from jwcrypto import jwk, jwt

from oidc_provider.models import Algorithm, Client
from oidc_provider.services import client_create, client_secret_set
from tests.admin_forms import REDIRECT, add_client_in_admin, change_client_in_admin, handover
from tests.conftest import ISSUER, authorize, exchange, query_of
from tests.oauth import register
from tests.tokens import header_of

STRONG_SECRET = "Zq8xW3vN7pL2kR9tY4mB6hJ1cF5dG0sA"


@pytest.fixture
def hs_rp(make_client, signing_keys):
    return make_client(algorithm=Algorithm.HS256)


def verify_with_secret(token: str, secret: str) -> dict:
    key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="))
    return json.loads(jwt.JWT(jwt=token, key=key, algs=["HS256"], expected_type="JWS").claims)


def test_hs256_id_token_verifies_with_the_client_secret(logged_in, client, hs_rp):
    body = exchange(client, hs_rp, authorize(logged_in, hs_rp)).json()
    id_token = body["id_token"]
    assert header_of(id_token) == {"alg": "HS256", "typ": "JWT"}  # no kid: nothing is published

    claims = verify_with_secret(id_token, hs_rp.client_secret)
    by_joserfc = joserfc_jwt.decode(id_token, OctKey.import_key(hs_rp.client_secret), algorithms=["HS256"])
    assert by_joserfc.claims == claims
    assert claims["iss"] == ISSUER and claims["aud"] == hs_rp.client_id
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def test_hs256_jwks_is_unchanged(client, signing_keys, make_client):
    before = client.get("/o/jwks/").json()
    make_client(algorithm=Algorithm.HS256)
    assert client.get("/o/jwks/").json() == before
    assert "HS256" not in {key["alg"] for key in before["keys"]}


def test_hs256_discovery_lists_hs256(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert "HS256" in document["id_token_signing_alg_values_supported"]


def test_hs256_secret_is_not_stored_in_cleartext(hs_rp):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_secret, client_secret_encrypted FROM oidc_provider_client WHERE client_id = %s",
            [hs_rp.client_id],
        )
        stored = cursor.fetchone()
    assert all(stored) and all(hs_rp.client_secret not in column for column in stored)


def test_hs256_copy_is_dropped_when_client_moves_off_hs256(hs_rp):
    client = Client.objects.get(pk=hs_rp.model.pk)
    client.algorithm = Algorithm.RS256
    client.save()
    assert Client.objects.get(pk=client.pk).client_secret_encrypted == ""


def test_hs256_public_client_refused_by_service(db):
    with pytest.raises(ValidationError):
        client_create(name="x", redirect_uris=["https://rp.example.com/cb"], public=True, algorithm="HS256")


def test_hs256_public_client_refused_by_createclient(db):
    with pytest.raises(CommandError, match="HS256"):
        call_command(
            "createclient", "x", "--redirect-uri", "https://rp.example.com/cb", "--public",
            "--id-token-alg", "HS256", stdout=StringIO(),
        )  # fmt: skip


def test_hs256_public_client_refused_by_admin(staff):
    response = add_client_in_admin(staff, kind="native", algorithm="HS256")
    assert "only confidential clients" in response.content.decode()
    assert not Client.objects.filter(name="Admin-made app").exists()


def test_hs256_public_client_refused_by_registration(client, signing_keys, initial_token):
    metadata = {"redirect_uris": ["https://rp.example.com/cb"], "token_endpoint_auth_method": "none"}
    response = register(client, {**metadata, "id_token_signed_response_alg": "HS256"}, token=initial_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_hs256_registration_of_confidential_client_signs_with_its_secret(
    client,
    signing_keys,
    initial_token,
    logged_in,
):
    metadata = {"redirect_uris": ["https://rp.example.com/cb"], "id_token_signed_response_alg": "HS256"}
    body = register(client, metadata, token=initial_token).json()
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.algorithm == Algorithm.HS256 and stored.client_secret_encrypted


def test_hs256_admin_switch_without_new_secret_refused(staff, make_client):
    registered = make_client(redirect_uris=[REDIRECT])
    response = change_client_in_admin(staff, registered.model, algorithm="HS256")
    assert response.status_code == 200
    assert "set or reset the secret in the same change" in response.content.decode()
    assert Client.objects.get(pk=registered.model.pk).algorithm == Algorithm.RS256

    response = change_client_in_admin(
        staff, registered.model, algorithm="HS256", new_client_secret=STRONG_SECRET
    )
    assert response.status_code == 302
    client = Client.objects.get(pk=registered.model.pk)
    assert client.algorithm == Algorithm.HS256 and client.client_secret_encrypted


def test_hs256_admin_generated_secret_signs(staff, signing_keys, logged_in):
    response = add_client_in_admin(staff, algorithm="HS256")
    secret = handover(response)["Client secret"]
    assert Client.objects.get(name="Admin-made app").client_secret_encrypted
    assert secret


def test_hs256_logout_with_hint(logged_in, client, hs_rp):
    id_token = exchange(client, hs_rp, authorize(logged_in, hs_rp)).json()["id_token"]
    response = logged_in.get(
        "/o/logout/",
        {"id_token_hint": id_token, "post_logout_redirect_uri": "https://rp.example.com/logged-out"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("https://rp.example.com/logged-out")
    assert logged_in.get("/accounts/").status_code != 200


def test_hs256_logout_refuses_hint_signed_with_another_secret(logged_in, client, hs_rp):
    id_token = exchange(client, hs_rp, authorize(logged_in, hs_rp)).json()["id_token"]
    client_secret_set(client=Client.objects.get(pk=hs_rp.model.pk))
    response = logged_in.get(
        "/o/logout/",
        {"id_token_hint": id_token, "post_logout_redirect_uri": "https://rp.example.com/logged-out"},
    )
    assert response.status_code == 400


def test_hs256_authorize_with_hint_for_logged_in_user(logged_in, client, hs_rp):
    id_token = exchange(client, hs_rp, authorize(logged_in, hs_rp)).json()["id_token"]
    result = authorize(logged_in, hs_rp, prompt="none", id_token_hint=id_token)
    assert result.code
    assert "error" not in query_of(result.response["Location"])


def test_hs256_new_secret_after_reset_verifies_new_tokens(logged_in, client, hs_rp):
    new_secret = client_secret_set(client=Client.objects.get(pk=hs_rp.model.pk))
    hs_rp.client_secret = new_secret
    id_token = exchange(client, hs_rp, authorize(logged_in, hs_rp)).json()["id_token"]
    assert verify_with_secret(id_token, new_secret)["aud"] == hs_rp.client_id
