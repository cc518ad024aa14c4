"""The JWKS document (RFC 7517 §5): public keys only, each named, and matching ID token headers."""

import pytest

from oidc_provider import keys, rotation
from oidc_provider.models import KEY_ALGORITHMS, Algorithm, SigningKey
from tests.conftest import authorize, exchange, validate_id_token
from tests.tokens import header_of

JWKS = "/o/jwks/"
# RFC 7518 §6.2.2, §6.3.2 and RFC 8037 §2: members that only a private key has.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_jwks_every_key_has_kid_alg_and_use(client, signing_keys):
    published = client.get(JWKS).json()["keys"]
    assert {key["alg"] for key in published} == set(KEY_ALGORITHMS)
    for key in published:
        assert key["kid"]
        assert key["alg"] in KEY_ALGORITHMS
        assert key["use"] == "sig"


def test_jwks_kids_are_unique(client, signing_keys):
    published = client.get(JWKS).json()["keys"]
    kids = [key["kid"] for key in published]
    assert len(kids) == len(set(kids))


def test_jwks_publishes_no_private_key_material(client, signing_keys):
    published = client.get(JWKS).json()["keys"]
    assert published
    for key in published:
        assert not PRIVATE_MEMBERS.intersection(key), key["kid"]


def test_jwks_publishes_next_and_retired_keys(client, db):
    rotation.keys_rotate(algorithms=[Algorithm.RS256])
    upcoming = keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.NEXT)
    retired = keys.signing_key_create(algorithm=Algorithm.ES256, state=SigningKey.State.RETIRED)
    kids = {key["kid"] for key in client.get(JWKS).json()["keys"]}
    assert {upcoming.kid, retired.kid} <= kids


@pytest.mark.parametrize("algorithm", KEY_ALGORITHMS)
def test_jwks_id_token_kid_is_published(algorithm, make_client, signing_keys, logged_in, client):
    rp = make_client(algorithm=algorithm)
    result = authorize(logged_in, rp)
    body = exchange(client, rp, result).json()
    jwks = client.get(JWKS).json()
    header = header_of(body["id_token"])
    assert header["alg"] == algorithm
    assert header["kid"] in {key["kid"] for key in jwks["keys"] if key["alg"] == algorithm}
    validate_id_token(
        body["id_token"],
        jwks=jwks,
        audience=rp.client_id,
        nonce=result.nonce,
        access_token=body["access_token"],
    )


def test_jwks_is_cacheable_with_etag(client, signing_keys):
    response = client.get(JWKS)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "max-age=" in response["Cache-Control"]
    etag = response["ETag"]

    again = client.get(JWKS, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""

    listed = client.get(JWKS, HTTP_IF_NONE_MATCH=f'"other", {etag}')
    assert listed.status_code == 304


def test_jwks_etag_changes_when_a_key_is_added(client, signing_keys):
    first = client.get(JWKS)["ETag"]
    keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.NEXT)
    response = client.get(JWKS, HTTP_IF_NONE_MATCH=first)
    assert response.status_code == 200
    assert response["ETag"] != first
