"""JWT client authentication: private_key_jwt and client_secret_jwt (OIDC Core 1.0 §9, RFC 7523 §2.2, §3)."""

import threading
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from tests.client_assertions import (
    ASSERTION_TYPE,
    assertion_params,
    claims_for,
    client_key,
    public_set,
    secret_key,
    signed,
    unsigned,
)
from tests.conftest import ISSUER, authorize, basic_auth, concurrent_database, exchange

TOKEN_URL = f"{ISSUER}/o/token/"
CC = {"grant_type": "client_credentials"}


@pytest.fixture
def key():
    return client_key("ES256")


@pytest.fixture
def machine(make_client, signing_keys, key):
    """A back end registered for private_key_jwt with one ES256 key."""
    return make_client(
        name="Key job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)},
    )


@pytest.fixture
def hmac_machine(make_client, signing_keys):
    """A back end registered for client_secret_jwt."""
    return make_client(
        name="Secret JWT job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "client_secret_jwt"},
    )


def token(client, assertion: str, **extra):
    return client.post("/o/token/", {**CC, **assertion_params(assertion), **extra})


def assert_invalid_client(response) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"


def test_jwt_client_auth_private_key_jwt_gets_a_token(client, machine, key):
    response = token(client, signed(claims_for(machine.client_id, TOKEN_URL), key, "ES256"))
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"
    # A private_key_jwt client is given no secret: its keys are its only credential.
    assert machine.client_secret is None


@pytest.mark.parametrize("alg", ["RS256", "PS256", "EdDSA"])
def test_jwt_client_auth_private_key_jwt_accepts_each_advertised_algorithm(
    client, make_client, signing_keys, alg
):
    key = client_key(alg)
    job = make_client(
        name=f"{alg} job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)},
    )
    response = token(client, signed(claims_for(job.client_id, TOKEN_URL), key, alg))
    assert response.status_code == 200, response.content


def test_jwt_client_auth_issuer_as_audience_is_accepted(client, machine, key):
    response = token(client, signed(claims_for(machine.client_id, [ISSUER, "https://other"]), key, "ES256"))
    assert response.status_code == 200, response.content


def test_jwt_client_auth_client_id_in_the_body_is_allowed_when_it_matches(client, machine, key):
    assertion = signed(claims_for(machine.client_id, TOKEN_URL), key, "ES256")
    assert token(client, assertion, client_id=machine.client_id).status_code == 200


def test_jwt_client_auth_client_secret_jwt_gets_a_token(client, hmac_machine):
    assertion = signed(
        claims_for(hmac_machine.client_id, TOKEN_URL), secret_key(hmac_machine.client_secret), "HS256"
    )
    response = token(client, assertion)
    assert response.status_code == 200, response.content


def test_jwt_client_auth_client_secret_jwt_with_a_wrong_secret_is_refused(client, hmac_machine):
    assertion = signed(claims_for(hmac_machine.client_id, TOKEN_URL), secret_key("x" * 43), "HS256")
    assert_invalid_client(token(client, assertion))


def test_jwt_client_auth_replayed_jti_is_refused(client, machine, key):
    claims = claims_for(machine.client_id, TOKEN_URL)
    assertion = signed(claims, key, "ES256")
    assert token(client, assertion).status_code == 200
    assert_invalid_client(token(client, assertion))
    # A new assertion with the same jti is a replay too.
    again = signed({**claims, "exp": claims["exp"] + 1}, key, "ES256")
    assert_invalid_client(token(client, again))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": "https://other.example.com/token"}, id="wrong-aud"),
        pytest.param({"aud": None}, id="no-aud"),
        pytest.param({"iss": "someone-else"}, id="wrong-iss"),
        pytest.param({"sub": "someone-else"}, id="wrong-sub"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"exp": 1_000_000_000, "iat": 999_999_990}, id="expired"),
        pytest.param({"jti": None}, id="no-jti"),
        pytest.param({"jti": 42}, id="jti-not-a-string"),
        pytest.param({"exp": "tomorrow"}, id="exp-not-a-number"),
        pytest.param({"lifetime": 3601}, id="lives-too-long"),
        pytest.param({"iat": None, "lifetime": 3700}, id="no-iat-exp-too-far"),
        pytest.param({"nbf": 4_000_000_000}, id="not-yet-valid"),
    ],
)
def test_jwt_client_auth_refuses_bad_claims(client, machine, key, overrides):
    lifetime = overrides.pop("lifetime", 60)
    claims = claims_for(machine.client_id, TOKEN_URL, lifetime=lifetime, **overrides)
    assert_invalid_client(token(client, signed(claims, key, "ES256")))


def test_jwt_client_auth_alg_none_is_refused(client, machine):
    assert_invalid_client(token(client, unsigned(claims_for(machine.client_id, TOKEN_URL))))


def test_jwt_client_auth_hs256_with_the_public_key_as_secret_is_refused(client, machine, key):
    # Algorithm confusion: the public key's JSON (or PEM) used as an HMAC secret.
    public = key.export_public()
    forged = signed(claims_for(machine.client_id, TOKEN_URL), secret_key(public), "HS256", kid=None)
    assert_invalid_client(token(client, forged))
    pem = key.export_to_pem().decode()
    forged = signed(claims_for(machine.client_id, TOKEN_URL), secret_key(pem), "HS256", kid=None)
    assert_invalid_client(token(client, forged))


def test_jwt_client_auth_another_key_is_refused(client, machine):
    other = client_key("ES256")
    assert_invalid_client(token(client, signed(claims_for(machine.client_id, TOKEN_URL), other, "ES256")))
    # Even naming the registered key's kid.
    forged = signed(
        claims_for(machine.client_id, TOKEN_URL), other, "ES256", kid=machine.model.jwks["keys"][0]["kid"]
    )
    assert_invalid_client(token(client, forged))


def test_jwt_client_auth_signing_alg_restriction_applies(client, make_client, signing_keys):
    rsa, ec = client_key("RS256"), client_key("ES256")
    job = make_client(
        name="Strict job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks": public_set(rsa, ec),
        },
    )
    assert_invalid_client(token(client, signed(claims_for(job.client_id, TOKEN_URL), ec, "ES256")))
    assert token(client, signed(claims_for(job.client_id, TOKEN_URL), rsa, "RS256")).status_code == 200


@pytest.mark.parametrize(
    "assertion",
    [
        "",
        "garbage",
        "a.b.c",
        "e30.e30.",
        "x" * 20000,
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",
    ],
)
def test_jwt_client_auth_malformed_assertions_are_invalid_client(client, machine, assertion):
    assert_invalid_client(token(client, assertion, client_id=machine.client_id))
    assert_invalid_client(token(client, assertion))


def test_jwt_client_auth_wrong_assertion_type_is_refused(client, machine, key):
    assertion = signed(claims_for(machine.client_id, TOKEN_URL), key, "ES256")
    response = client.post(
        "/o/token/", {**CC, "client_assertion_type": "urn:example:saml", "client_assertion": assertion}
    )
    assert_invalid_client(response)


def test_jwt_client_auth_secret_is_refused_for_a_jwt_client(client, hmac_machine):
    # Registered for client_secret_jwt: sending the secret itself does not authenticate.
    response = client.post(
        "/o/token/", CC, HTTP_AUTHORIZATION=basic_auth(hmac_machine.client_id, hmac_machine.client_secret)
    )
    assert_invalid_client(response)
    response = client.post(
        "/o/token/", {**CC, "client_id": hmac_machine.client_id, "client_secret": hmac_machine.client_secret}
    )
    assert_invalid_client(response)


def test_jwt_client_auth_assertion_is_refused_for_a_secret_client(client, make_client, signing_keys):
    job = make_client(name="Basic job", redirect_uris=[], grant_types=["client_credentials"])
    assertion = signed(claims_for(job.client_id, TOKEN_URL), secret_key(job.client_secret), "HS256")
    assert_invalid_client(token(client, assertion))
    # Its secret still works.
    response = client.post("/o/token/", CC, HTTP_AUTHORIZATION=basic_auth(job.client_id, job.client_secret))
    assert response.status_code == 200


def test_jwt_client_auth_two_methods_at_once_are_refused(client, hmac_machine):
    assertion = signed(
        claims_for(hmac_machine.client_id, TOKEN_URL), secret_key(hmac_machine.client_secret), "HS256"
    )
    response = client.post(
        "/o/token/",
        {**CC, **assertion_params(assertion)},
        HTTP_AUTHORIZATION=basic_auth(hmac_machine.client_id, hmac_machine.client_secret),
    )
    assert_invalid_client(response)


def test_jwt_client_auth_public_client_cannot_use_an_assertion(client, make_client, signing_keys, key):
    spa = make_client(name="SPA", public=True)
    response = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": "x",
            **assertion_params(signed(claims_for(spa.client_id, TOKEN_URL), key, "ES256")),
        },
    )
    assert_invalid_client(response)


def test_jwt_client_auth_code_flow(client, logged_in, make_client, signing_keys, key):
    app = make_client(
        name="Key app", client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)}
    )
    result = authorize(logged_in, app, scope="openid")
    assertion = signed(claims_for(app.client_id, TOKEN_URL), key, "ES256")
    response = exchange(client, app, result, **assertion_params(assertion))
    assert response.status_code == 200, response.content
    assert "id_token" in response.json()


def test_jwt_client_auth_at_introspection_revocation_and_device(client, make_client, signing_keys, key):
    job = make_client(
        name="All endpoints",
        redirect_uris=[],
        grant_types=["client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
        client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)},
    )

    def fresh(audience: str = TOKEN_URL) -> dict[str, str]:
        return assertion_params(signed(claims_for(job.client_id, audience), key, "ES256"))

    access_token = client.post("/o/token/", {**CC, **fresh()}).json()["access_token"]
    # RFC 7523 §3: the endpoint the assertion is sent to is an accepted audience too.
    response = client.post("/o/introspect/", {"token": access_token, **fresh(f"{ISSUER}/o/introspect/")})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    # Without authentication, or with a spent assertion, introspection refuses.
    spent = fresh()
    assert client.post("/o/introspect/", {"token": access_token, **spent}).status_code == 200
    assert_invalid_client(client.post("/o/introspect/", {"token": access_token, **spent}))

    response = client.post("/o/device/", {"scope": "openid", **fresh()})
    assert response.status_code == 200, response.content
    assert "device_code" in response.json()

    response = client.post("/o/revoke/", {"token": access_token, **fresh()})
    assert response.status_code == 200, response.content
    response = client.post("/o/introspect/", {"token": access_token, **fresh()})
    assert response.json() == {"active": False}
    assert_invalid_client(client.post("/o/revoke/", {"token": access_token, "client_id": job.client_id}))


def test_jwt_client_auth_discovery_lists_the_methods_and_algorithms(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ]
    assert document["token_endpoint_auth_signing_alg_values_supported"] == [
        "HS256",
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
    ]
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in document["introspection_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in document["revocation_endpoint_auth_methods_supported"]
    assert (
        document["revocation_endpoint_auth_signing_alg_values_supported"]
        == document["token_endpoint_auth_signing_alg_values_supported"]
    )


def test_jwt_client_auth_housekeeping_prunes_expired_jtis(client, machine, key, clock):
    assertion = signed(claims_for(machine.client_id, TOKEN_URL), key, "ES256")
    assert token(client, assertion).status_code == 200
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "client_assertion_uses: 0" in out.getvalue()
    clock.advance(61)
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "client_assertion_uses: 1" in out.getvalue()


@concurrent_database
def test_jwt_client_auth_concurrent_reuse_succeeds_once(
    live_server, transactional_db, settings, monkeypatch, make_client, signing_keys, key
):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    url = live_server.url
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}
    job = make_client(
        name="Racing job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)},
    )
    assertion = signed(claims_for(job.client_id, f"{url}/o/token/"), key, "ES256")
    count = 12
    barrier = threading.Barrier(count)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        response = requests.post(
            f"{url}/o/token/",
            data={**CC, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
            timeout=60,
        )
        codes.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    codes.sort()
    assert codes == [200] + [401] * 11, codes
