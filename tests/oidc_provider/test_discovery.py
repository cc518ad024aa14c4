"""``/.well-known/openid-configuration``: complete, truthful and cacheable (OIDC Discovery 1.0 §3)."""

import pytest

from oidc_provider import keys, rotation
from oidc_provider.models import Algorithm, SigningKey
from tests.conftest import ISSUER, authorize, exchange, validate_id_token

DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def document(client, signing_keys) -> dict:
    response = client.get(DISCOVERY)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_discovery_names_every_endpoint(document):
    assert document["issuer"] == ISSUER
    assert document["authorization_endpoint"] == f"{ISSUER}/o/authorize/"
    assert document["token_endpoint"] == f"{ISSUER}/o/token/"
    assert document["userinfo_endpoint"] == f"{ISSUER}/o/userinfo/"
    assert document["jwks_uri"] == f"{ISSUER}/o/jwks/"
    assert document["end_session_endpoint"] == f"{ISSUER}/o/logout/"
    assert document["introspection_endpoint"] == f"{ISSUER}/o/introspect/"
    assert document["revocation_endpoint"] == f"{ISSUER}/o/revoke/"


def test_discovery_endpoints_answer(client, document):
    # Every advertised endpoint exists: nothing in the document leads to a 404.
    for name in ("jwks_uri", "authorization_endpoint"):
        path = document[name].removeprefix(ISSUER)
        assert client.get(path).status_code != 404
    for name in ("token_endpoint", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint"):
        path = document[name].removeprefix(ISSUER)
        assert client.post(path).status_code != 404


def test_discovery_lists_supported_grant_types_and_response_modes(document):
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        # RFC 8693 token exchange (test_token_exchange.py).
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert document["response_types_supported"] == ["code"]
    # OAuth 2.0 Form Post Response Mode: both are served (test_authorization_modes.py).
    assert document["response_modes_supported"] == ["query", "form_post"]
    assert document["subject_types_supported"] == ["public", "pairwise"]


def test_discovery_advertises_only_s256_pkce(document):
    # RFC 9700 §2.1.1: "plain" is not offered.
    assert document["code_challenge_methods_supported"] == ["S256"]


def test_discovery_scopes_supported_has_no_internal_scopes(document):
    assert set(document["scopes_supported"]) == {
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "groups",
        "offline_access",
    }
    assert "__all__" not in document["scopes_supported"]


def test_discovery_claims_supported_covers_every_emitted_claim(document, logged_in, rp, client, user):
    user.middle_name = "Pleasance"
    user.nickname = "Al"
    user.website = "https://alice.example.com"
    user.save()
    result = authorize(logged_in, rp, scope="openid profile email phone address offline_access")
    body = exchange(client, rp, result).json()
    jwks = client.get("/o/jwks/").json()
    id_claims = validate_id_token(body["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").json()
    supported = set(document["claims_supported"])
    assert set(id_claims) <= supported, set(id_claims) - supported
    assert set(userinfo) <= supported, set(userinfo) - supported


def test_discovery_signing_algs_are_those_with_an_active_key(client, db):
    rotation.keys_rotate(algorithms=[Algorithm.RS256])
    # A "next" key is published in JWKS but signs nothing yet.
    keys.signing_key_create(algorithm=Algorithm.ES256, state=SigningKey.State.NEXT)
    document = client.get(DISCOVERY).json()
    # HS256 is always offered: it signs with the client secret, not a managed key.
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "HS256"]

    rotation.keys_rotate(algorithms=[Algorithm.EDDSA])
    document = client.get(DISCOVERY).json()
    assert set(document["id_token_signing_alg_values_supported"]) == {"RS256", "EdDSA", "HS256"}


def test_discovery_lists_every_algorithm_once_bootstrapped(document):
    assert set(document["id_token_signing_alg_values_supported"]) == set(Algorithm.values)


def test_discovery_is_cacheable_with_etag(client, signing_keys):
    response = client.get(DISCOVERY)
    assert "max-age=" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = client.get(DISCOVERY, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_discovery_stale_etag_gets_full_document(client, signing_keys):
    response = client.get(DISCOVERY, HTTP_IF_NONE_MATCH='"not-the-etag"')
    assert response.status_code == 200
    assert response.json()["issuer"] == ISSUER


def test_discovery_etag_changes_when_algorithms_change(client, db):
    rotation.keys_rotate(algorithms=[Algorithm.RS256])
    first = client.get(DISCOVERY)["ETag"]
    rotation.keys_rotate(algorithms=[Algorithm.ES256])
    response = client.get(DISCOVERY, HTTP_IF_NONE_MATCH=first)
    assert response.status_code == 200
    assert response["ETag"] != first
