"""ID token signing algorithms: each client's own, verifiable by any RP library against JWKS."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from joserfc import jwt
from joserfc.jwk import KeySet, KeySetSerialization

from oidc_provider import keys
from oidc_provider.models import KEY_ALGORITHMS, Algorithm, Client, SigningKey
from tests.admin_forms import REDIRECT, add_client_in_admin
from tests.conftest import ISSUER, RegisteredClient, authorize, exchange, validate_id_token
from tests.tokens import half_hash, header_of

JWKS = "/o/jwks/"
DISCOVERY = "/.well-known/openid-configuration"

# joserfc warns that RFC 9864 deprecates the polymorphic "EdDSA" for "Ed25519"; OIDC
# deployments still name it EdDSA.
EDDSA_DEPRECATION = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")


def verify_with_joserfc(token: str, *, jwks: KeySetSerialization, algorithm: str, audience: str) -> dict:
    """Verify ``token`` with joserfc, a JOSE library independent of the provider's jwcrypto."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[algorithm])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims


def id_token_for(browser, http, registered: RegisteredClient) -> tuple[dict, str]:
    """Run the code flow for ``registered``; return the token response and the nonce sent."""
    result = authorize(browser, registered)
    response = exchange(http, registered, result)
    assert response.status_code == 200, response.content
    return response.json(), result.nonce


@EDDSA_DEPRECATION
@pytest.mark.parametrize("algorithm", KEY_ALGORITHMS)
def test_id_token_signed_with_the_clients_algorithm(algorithm, make_client, signing_keys, logged_in, client):
    rp = make_client(algorithm=algorithm)
    body, nonce = id_token_for(logged_in, client, rp)
    id_token = body["id_token"]
    jwks = client.get(JWKS).json()

    header = header_of(id_token)
    assert header["alg"] == algorithm
    published = {key["kid"]: key for key in jwks["keys"]}
    assert published[header["kid"]]["alg"] == algorithm

    by_jwcrypto = validate_id_token(id_token, jwks=jwks, audience=rp.client_id, nonce=nonce)
    by_joserfc = verify_with_joserfc(id_token, jwks=jwks, algorithm=algorithm, audience=rp.client_id)
    assert by_joserfc == by_jwcrypto
    assert by_joserfc["nonce"] == nonce

    at_hash = by_joserfc["at_hash"]
    assert at_hash == half_hash(body["access_token"], algorithm)
    # Half of a 256-bit digest is 16 bytes (22 base64url characters); of SHA-512, 32 (43).
    assert len(at_hash) == (43 if algorithm == Algorithm.EDDSA else 22)


def test_discovery_signing_algs_are_exactly_those_with_an_active_key(client, signing_keys):
    def advertised() -> list[str]:
        return client.get(DISCOVERY).json()["id_token_signing_alg_values_supported"]

    def active() -> set[str]:
        rows = SigningKey.objects.filter(state=SigningKey.State.ACTIVE)
        return set(rows.values_list("algorithm", flat=True))

    # HS256 needs no managed key (it signs with the client secret), so it is never in JWKS.
    assert set(advertised()) == active() | {Algorithm.HS256} == set(Algorithm.values)
    jwks_algs = {key["alg"] for key in client.get(JWKS).json()["keys"]}
    assert set(advertised()) - {Algorithm.HS256} <= jwks_algs

    removed = SigningKey.objects.get(algorithm=Algorithm.ES256, state=SigningKey.State.ACTIVE)
    removed.delete()
    # This worker forgets its key set at once; others within METADATA_CACHE_SECONDS.
    keys.clear_cache()

    assert Algorithm.ES256 not in advertised()
    assert set(advertised()) == active() | {Algorithm.HS256}
    assert active() == {Algorithm.RS256, Algorithm.PS256, Algorithm.EDDSA}
    assert removed.kid not in {key["kid"] for key in client.get(JWKS).json()["keys"]}


def test_createclient_id_token_alg_es256_gets_es256_id_tokens(signing_keys, logged_in, client):
    out = StringIO()
    redirect_uri = "https://cli-made.example.com/cb"
    call_command(
        "createclient",
        "CLI app",
        "--redirect-uri",
        redirect_uri,
        "--id-token-alg",
        "ES256",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    model = Client.objects.get(client_id=data["client_id"])
    registered = RegisteredClient(data["client_id"], data["client_secret"], redirect_uri, model)

    body, nonce = id_token_for(logged_in, client, registered)
    assert header_of(body["id_token"])["alg"] == "ES256"
    jwks = client.get(JWKS).json()
    claims = verify_with_joserfc(body["id_token"], jwks=jwks, algorithm="ES256", audience=data["client_id"])
    assert claims["nonce"] == nonce
    assert claims["at_hash"] == half_hash(body["access_token"], "ES256")


@EDDSA_DEPRECATION
def test_admin_sets_the_id_token_algorithm(staff, signing_keys, logged_in, client):
    response = add_client_in_admin(staff, kind="native", algorithm="EdDSA")
    assert response.status_code == 200
    model = Client.objects.get(name="Admin-made app")
    assert model.algorithm == Algorithm.EDDSA
    registered = RegisteredClient(model.client_id, None, REDIRECT, model)

    body, nonce = id_token_for(logged_in, client, registered)
    assert header_of(body["id_token"])["alg"] == "EdDSA"
    jwks = client.get(JWKS).json()
    claims = verify_with_joserfc(body["id_token"], jwks=jwks, algorithm="EdDSA", audience=model.client_id)
    assert claims["nonce"] == nonce
    assert claims["at_hash"] == half_hash(body["access_token"], "EdDSA")
