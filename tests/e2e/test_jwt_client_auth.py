"""private_key_jwt, client_secret_jwt and request objects made by a real library (Authlib, joserfc),
against the provider on a live HTTP server (OIDC Core 1.0 §6, §9; RFC 7523; RFC 9101)."""

import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from oidc_provider.services import client_create
from tests.conftest import query_of
from tests.e2e.conftest import REDIRECT_URI, SCOPE, verify_id_token


def key_client(name: str, key, **client_keys) -> str:
    client, secret = client_create(
        name=name,
        redirect_uris=[REDIRECT_URI],
        client_keys={
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.as_dict(private=False)]},
            **client_keys,
        },
    )
    assert secret is None
    return client.client_id


def test_jwt_client_auth_authlib_private_key_jwt_code_flow(browser, issuer, metadata, user):
    key = ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"})
    client_id = key_client("Authlib key RP", key)
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    session = OAuth2Session(
        client_id=client_id,
        client_secret=key,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT(metadata["token_endpoint"], alg="ES256"),
    )
    verifier, nonce = generate_token(48), generate_token(16)
    url, _state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    location = browser.sign_in(url)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    claims = verify_id_token(token["id_token"], metadata=metadata, client_id=client_id, nonce=nonce)
    assert claims["sub"]
    # The refresh goes through the same client authentication, with a new assertion.
    refreshed = session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]


def test_jwt_client_auth_authlib_assertion_replay_is_refused(issuer, metadata):
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "job-key"})
    client, _ = client_create(
        name="Authlib job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.as_dict(private=False)]},
        },
    )
    # One assertion, made by Authlib, sent twice.
    assertion = PrivateKeyJWT(metadata["token_endpoint"], alg="EdDSA").sign(
        OAuth2Session(client_id=client.client_id, client_secret=key), metadata["token_endpoint"]
    )
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    first = requests.post(metadata["token_endpoint"], data=data, timeout=10)
    assert first.status_code == 200, first.text
    second = requests.post(metadata["token_endpoint"], data=data, timeout=10)
    assert second.status_code == 401
    assert second.json()["error"] == "invalid_client"


def test_jwt_client_auth_authlib_client_secret_jwt(issuer, metadata):
    client, secret = client_create(
        name="Authlib HMAC job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        client_keys={"token_endpoint_auth_method": "client_secret_jwt"},
    )
    session = OAuth2Session(
        client_id=client.client_id,
        client_secret=secret,
        token_endpoint_auth_method=ClientSecretJWT(metadata["token_endpoint"]),
    )
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    # The secret itself no longer authenticates this client.
    basic = OAuth2Session(client_id=client.client_id, client_secret=secret)
    try:
        basic.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    except OAuthError as error:
        assert error.error == "invalid_client"
    else:
        raise AssertionError("the secret authenticated a client_secret_jwt client")


def test_jwt_client_auth_signed_request_object_through_the_real_flow(browser, issuer, metadata, user):
    key = ECKey.generate_key("P-256", parameters={"kid": "ro-key"})
    client_id = key_client("Request object RP", key, require_signed_request_object=True)
    assert metadata["request_parameter_supported"] is True
    verifier, nonce, state = generate_token(48), generate_token(16), generate_token(16)
    now = int(time.time())
    request_object = jwt.encode(
        {"alg": "ES256", "kid": "ro-key", "typ": "oauth-authz-req+jwt"},
        {
            "iss": client_id,
            "aud": issuer,
            "iat": now,
            "exp": now + 300,
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        key,
    )
    url = (
        requests.Request(
            "GET",
            metadata["authorization_endpoint"],
            params={
                "client_id": client_id,
                "response_type": "code",
                "scope": "openid",
                "request": request_object,
            },
        )
        .prepare()
        .url
    )
    location = browser.sign_in(url)
    query = query_of(location)
    assert query["state"] == state
    session = OAuth2Session(
        client_id=client_id,
        client_secret=key,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=PrivateKeyJWT(metadata["token_endpoint"], alg="ES256"),
    )
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    claims = verify_id_token(token["id_token"], metadata=metadata, client_id=client_id, nonce=nonce)
    assert claims["nonce"] == nonce
    # The same request without the object is refused: the client requires signed objects.
    plain = requests.get(
        metadata["authorization_endpoint"],
        params={
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": REDIRECT_URI,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 302
    assert query_of(plain.headers["Location"])["error"] == "invalid_request"
