"""A client's public keys: inline ``jwks`` or a ``jwks_uri`` (OIDC Registration 1.0 §2).

The ``jwks_uri`` is served by a real https server on loopback (tests/sector_server.py), which the
provider's guarded outbound client reaches because the tests allow loopback.
"""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from oidc_provider.models import Client
from tests.admin_forms import change_client_in_admin
from tests.client_assertions import assertion_params, claims_for, client_key, public_set, secret_key, signed
from tests.conftest import ISSUER, basic_auth
from tests.oauth import register
from tests.sector_server import SectorServer, make_certificates

TOKEN_URL = f"{ISSUER}/o/token/"
CC = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("jwks-tls"))


@pytest.fixture
def keys_server(certificates, monkeypatch):
    """An https server for JWK Sets, whose authority the provider trusts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
    server = SectorServer(certificates).start()
    yield server
    server.stop()


def key_job(make_client, **client_keys):
    return make_client(
        name="Key job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "private_key_jwt", **client_keys},
    )


def token_with(client, job, key, alg="ES256", *, clock=None):
    now = clock.timestamp() if clock is not None else None
    assertion = signed(claims_for(job.client_id, TOKEN_URL, now=now), key, alg)
    return client.post("/o/token/", {**CC, **assertion_params(assertion)})


# --- registering keys ----------------------------------------------------------------------------


def test_client_keys_private_key_is_refused(make_client, signing_keys):
    key = client_key("ES256")
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks={"keys": [key.export_private(as_dict=True)]})
    assert "register public keys only" in str(error.value)


def test_client_keys_symmetric_key_is_refused(make_client, signing_keys):
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    assert "jwks" in error.value.message_dict


@pytest.mark.parametrize(
    "jwks",
    [
        pytest.param({"keys": []}, id="empty"),
        pytest.param({"kty": "EC"}, id="not-a-set"),
        pytest.param({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, id="bad-point"),
        pytest.param({"keys": ["x"]}, id="not-an-object"),
        pytest.param({"keys": [{"kty": "EC", "crv": "P-384"}]}, id="curve"),
    ],
)
def test_client_keys_malformed_sets_are_refused(make_client, signing_keys, jwks):
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks=jwks)
    assert "jwks" in error.value.message_dict


def test_client_keys_short_rsa_key_is_refused(make_client, signing_keys):
    from jwcrypto import jwk

    short = jwk.JWK.generate(kty="RSA", size=1024)
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks=public_set(short))
    assert "2048" in str(error.value)


def test_client_keys_jwks_and_jwks_uri_together_are_refused(make_client, signing_keys):
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks=public_set(client_key()), jwks_uri="https://rp.example.com/jwks")
    assert "jwks" in error.value.message_dict


def test_client_keys_jwks_uri_must_be_https_and_public(make_client, signing_keys, settings):
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks_uri="http://rp.example.com/jwks")
    assert "jwks_uri" in error.value.message_dict
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}
    with pytest.raises(ValidationError) as error:
        key_job(make_client, jwks_uri="https://127.0.0.1/jwks")
    assert "loopback" in str(error.value)


def test_client_keys_private_key_jwt_needs_keys(make_client, signing_keys):
    with pytest.raises(ValidationError) as error:
        key_job(make_client)
    assert "token_endpoint_auth_method" in error.value.message_dict


def test_client_keys_public_client_cannot_choose_a_jwt_method(make_client, signing_keys):
    with pytest.raises(ValidationError) as error:
        make_client(
            name="SPA",
            public=True,
            client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(client_key())},
        )
    assert "token_endpoint_auth_method" in error.value.message_dict


# --- jwks_uri: fetched, cached, fetched again on an unknown kid (rate-limited) ------------------


def test_client_keys_jwks_uri_is_fetched_once_and_cached(client, make_client, signing_keys, keys_server):
    key = client_key("ES256")
    keys_server.documents["/jwks.json"] = public_set(key)
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    assert token_with(client, job, key).status_code == 200
    assert token_with(client, job, key).status_code == 200
    assert keys_server.requests == ["/jwks.json"]


def test_client_keys_rotated_jwks_uri_is_fetched_again_for_an_unknown_kid(
    client, make_client, signing_keys, keys_server, clock
):
    old, new = client_key("ES256", kid="old"), client_key("ES256", kid="new")
    keys_server.documents["/jwks.json"] = public_set(old)
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    assert token_with(client, job, old, clock=clock).status_code == 200
    keys_server.documents["/jwks.json"] = public_set(new)
    # Just fetched: an unknown kid does not make the provider ask again at once.
    response = token_with(client, job, new, clock=clock)
    assert response.status_code == 401
    assert keys_server.requests == ["/jwks.json"]
    clock.advance(61)
    assert token_with(client, job, new, clock=clock).status_code == 200
    assert keys_server.requests == ["/jwks.json", "/jwks.json"]
    # The retired key is gone from the set now.
    assert token_with(client, job, old, clock=clock).status_code == 401


def test_client_keys_unknown_kids_cannot_make_the_provider_hammer_the_uri(
    client, make_client, signing_keys, keys_server, clock
):
    key = client_key("ES256", kid="real")
    keys_server.documents["/jwks.json"] = public_set(key)
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    assert token_with(client, job, key, clock=clock).status_code == 200
    clock.advance(61)
    for index in range(5):
        made_up = client_key("ES256", kid=f"made-up-{index}")
        assert token_with(client, job, made_up, clock=clock).status_code == 401
    # One fetch for the first unknown kid, then none until the interval has passed.
    assert keys_server.requests == ["/jwks.json", "/jwks.json"]


def test_client_keys_jwks_uri_no_longer_allowed_is_not_fetched(
    client, make_client, signing_keys, keys_server, settings
):
    # Registered while loopback was allowed; the guard is applied again at every fetch.
    key = client_key("ES256")
    keys_server.documents["/jwks.json"] = public_set(key)
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}
    response = token_with(client, job, key)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert keys_server.requests == []


def test_client_keys_cached_set_expires(client, make_client, signing_keys, keys_server, clock):
    key = client_key("ES256")
    keys_server.documents["/jwks.json"] = public_set(key)
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    assert token_with(client, job, key, clock=clock).status_code == 200
    clock.advance(3601)
    assert token_with(client, job, key, clock=clock).status_code == 200
    assert len(keys_server.requests) == 2


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param({"keys": "no"}, id="not-a-set"),
        pytest.param(b"x" * 70000, id="too-big"),
        pytest.param(None, id="missing"),
    ],
)
def test_client_keys_broken_jwks_uri_is_invalid_client(
    client, make_client, signing_keys, keys_server, document
):
    key = client_key("ES256")
    if document is not None:
        keys_server.documents["/jwks.json"] = document
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    response = token_with(client, job, key)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # A failing server is not asked again for every request.
    token_with(client, job, key)
    assert len(keys_server.requests) == 1


def test_client_keys_private_key_in_served_set_is_refused(client, make_client, signing_keys, keys_server):
    key = client_key("ES256")
    keys_server.documents["/jwks.json"] = {"keys": [key.export_private(as_dict=True)]}
    job = key_job(make_client, jwks_uri=keys_server.url("/jwks.json"))
    assert token_with(client, job, key).status_code == 401


def test_client_keys_changed_jwks_uri_is_fetched_anew(client, make_client, signing_keys, keys_server):
    first, second = client_key("ES256"), client_key("ES256")
    keys_server.documents["/one.json"] = public_set(first)
    keys_server.documents["/two.json"] = public_set(second)
    job = key_job(make_client, jwks_uri=keys_server.url("/one.json"))
    assert token_with(client, job, first).status_code == 200
    job.model.jwks_uri = keys_server.url("/two.json")
    job.model.full_clean()
    job.model.save()
    assert token_with(client, job, second).status_code == 200
    assert token_with(client, job, first).status_code == 401
    assert keys_server.requests == ["/one.json", "/two.json"]


# --- dynamic registration (OIDC Registration 1.0 §2) --------------------------------------------


def test_client_keys_registration_with_jwks_gives_a_key_only_client(client, signing_keys, initial_token):
    key = client_key("ES256")
    response = register(
        client,
        {
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": public_set(key),
        },
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["token_endpoint_auth_signing_alg"] == "ES256"
    assert body["jwks"] == public_set(key)
    # RFC 7591 §3.2.1: no secret for a client that authenticates with its keys.
    assert "client_secret" not in body
    assertion = signed(claims_for(body["client_id"], TOKEN_URL), key, "ES256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200


def test_client_keys_registration_with_client_secret_jwt(client, signing_keys, initial_token):
    response = register(
        client,
        {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"},
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    key = secret_key(body["client_secret"])
    assertion = signed(claims_for(body["client_id"], TOKEN_URL), key, "HS256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(
            {"jwks": {"keys": []}, "jwks_uri": "https://rp.example.com/jwks"}, id="jwks-and-jwks_uri"
        ),
        pytest.param({"jwks": "not an object"}, id="jwks-not-an-object"),
        pytest.param({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, id="symmetric-key"),
        pytest.param({}, id="no-keys"),
        pytest.param({"jwks_uri": "http://rp.example.com/jwks"}, id="http-jwks_uri"),
        pytest.param({"token_endpoint_auth_signing_alg": "HS256"}, id="hs256-for-private-key-jwt"),
        pytest.param({"token_endpoint_auth_method": "tls_client_auth"}, id="unsupported-method"),
    ],
)
def test_client_keys_registration_refuses_bad_key_metadata(client, signing_keys, initial_token, metadata):
    key = client_key("ES256")
    document = {
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        **({"jwks": public_set(key)} if metadata.get("token_endpoint_auth_signing_alg") else {}),
        **metadata,
    }
    response = register(client, document, token=initial_token)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_client_metadata"


# --- createclient and updateclient ---------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_client_keys_createclient_with_jwks_file(client, signing_keys, tmp_path):
    key = client_key("ES256")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_set(key)))
    out = run(
        "createclient", "Batch job", "--grant-type", "client_credentials",
        "--auth-method", "private_key_jwt", "--jwks-file", str(path), "--json",
    )  # fmt: skip
    created = json.loads(out)
    # Its keys are its credential: no secret is made or shown.
    assert created["client_secret"] is None
    assertion = signed(claims_for(created["client_id"], TOKEN_URL), key, "ES256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200
    shown = json.loads(run("showclient", created["client_id"], "--json"))
    assert shown["token_endpoint_auth_method"] == "private_key_jwt"
    assert shown["jwks"] == public_set(key)


def test_client_keys_createclient_refuses_a_private_key_file(signing_keys, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [client_key("ES256").export_private(as_dict=True)]}))
    with pytest.raises(CommandError, match="register public keys only"):
        run("createclient", "Leaky job", "--grant-type", "client_credentials",
            "--auth-method", "private_key_jwt", "--jwks-file", str(path))  # fmt: skip
    assert not Client.objects.filter(name="Leaky job").exists()


def test_client_keys_createclient_refuses_jwks_file_and_uri(signing_keys, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_set(client_key())))
    with pytest.raises(CommandError, match="not both"):
        run("createclient", "Both", "--auth-method", "private_key_jwt",
            "--jwks-file", str(path), "--jwks-uri", "https://rp.example.com/jwks")  # fmt: skip


def test_client_keys_updateclient_switches_to_jwks_uri_and_client_secret_jwt(
    client, make_client, signing_keys, keys_server
):
    key = client_key("ES256")
    keys_server.documents["/jwks.json"] = public_set(key)
    job = make_client(name="Moving job", redirect_uris=[], grant_types=["client_credentials"])
    out = run("updateclient", job.client_id, "--auth-method", "private_key_jwt", "--jwks-uri",
              keys_server.url("/jwks.json"))  # fmt: skip
    assert "token_endpoint_auth_method" in out and "jwks_uri" in out
    assertion = signed(claims_for(job.client_id, TOKEN_URL), key, "ES256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200

    # client_secret_jwt needs the secret itself, which is kept only hashed: a new one, at once.
    with pytest.raises(CommandError, match="set a new secret in the same change"):
        run("updateclient", job.client_id, "--auth-method", "client_secret_jwt", "--jwks-uri", "")
    out = run("updateclient", job.client_id, "--auth-method", "client_secret_jwt", "--jwks-uri", "",
              "--reset-secret")  # fmt: skip
    secret = out.split("client_secret: ")[1].split()[0]
    assertion = signed(claims_for(job.client_id, TOKEN_URL), secret_key(secret), "HS256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200
    # The secret itself no longer authenticates it.
    assert (
        client.post("/o/token/", CC, HTTP_AUTHORIZATION=basic_auth(job.client_id, secret)).status_code == 401
    )


# --- the admin ---------------------------------------------------------------------------------


def test_client_keys_admin_sets_keys_and_refuses_a_private_one(client, staff, make_client, signing_keys):
    job = make_client(name="Admin job", redirect_uris=[], grant_types=["client_credentials"])
    key = client_key("ES256")
    leaked = json.dumps({"keys": [key.export_private(as_dict=True)]})
    response = change_client_in_admin(
        staff, job.model, token_endpoint_auth_method="private_key_jwt", jwks=leaked
    )
    assert response.status_code == 200
    assert "register public keys only" in response.content.decode()
    assert Client.objects.get(pk=job.model.pk).token_endpoint_auth_method == "client_secret_basic"

    response = change_client_in_admin(
        staff, job.model, token_endpoint_auth_method="private_key_jwt", jwks=json.dumps(public_set(key))
    )
    assert response.status_code == 302
    assertion = signed(claims_for(job.client_id, TOKEN_URL), key, "ES256")
    assert client.post("/o/token/", {**CC, **assertion_params(assertion)}).status_code == 200
    # Its old secret no longer authenticates it.
    basic = basic_auth(job.client_id, job.client_secret)
    assert client.post("/o/token/", CC, HTTP_AUTHORIZATION=basic).status_code == 401
