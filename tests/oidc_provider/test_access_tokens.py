"""JWT access tokens (RFC 9068): what a resource server validating locally, or introspecting, sees."""

import json
import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from joserfc import jwt
from joserfc.errors import DecodeError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet, KeySetSerialization

from oidc_provider.models import Client
from tests.conftest import ISSUER, RegisteredClient, authorize, basic_auth, exchange, validate_id_token
from tests.oauth import introspection, refresh
from tests.tokens import header_of
from tests.tokens import verify_access_token as verify_at_jwt

JWKS = "/o/jwks/"
USERINFO = "/o/userinfo/"
REVOKE = "/o/revoke/"
TOKEN = "/o/token/"
API = "https://api.example.com/"


def verify_access_token(
    token: str, *, jwks: KeySetSerialization, audience: str, algorithm: str = "RS256"
) -> dict:
    """Validate ``token`` as an RFC 9068 §4 resource server does (tests/tokens.py)."""
    return verify_at_jwt(token, jwks=jwks, audience=audience, issuer=ISSUER, algorithm=algorithm)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def refreshed_tokens(http, rp: RegisteredClient, refresh_token: str) -> dict:
    response = refresh(http, rp, refresh_token)
    assert response.status_code == 200, response.content
    return response.json()


def code_flow(browser, http, rp: RegisteredClient, *, token_extra: dict | None = None, **authorize_extra):
    """Run the code flow; return the token response and the authorization result."""
    result = authorize(browser, rp, **authorize_extra)
    if token_extra:
        data = {
            "grant_type": "authorization_code",
            "code": result.code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": result.verifier,
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
            **token_extra,
        }
        response = http.post(TOKEN, data)
    else:
        response = exchange(http, rp, result)
    assert response.status_code == 200, response.content
    return response.json(), result


@pytest.fixture
def tokens(logged_in, rp, client) -> dict:
    return code_flow(logged_in, client, rp)[0]


@pytest.fixture
def jwks(client, signing_keys) -> dict:
    return client.get(JWKS).json()


@pytest.fixture
def machine(make_client, signing_keys) -> RegisteredClient:
    return make_client(name="Billing job", redirect_uris=[], grant_types=["client_credentials"])


def test_access_token_is_rs256_at_jwt_with_a_published_kid(make_client, signing_keys, logged_in, client):
    # The ID token alg is the client's choice; access tokens default to RS256 (RFC 9068 §2.1).
    rp = make_client(algorithm="ES256")
    body, _result = code_flow(logged_in, client, rp)
    header = header_of(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    published = {key["kid"]: key for key in client.get(JWKS).json()["keys"]}
    assert published[header["kid"]]["alg"] == "RS256"
    assert header_of(body["id_token"])["alg"] == "ES256"


def test_access_token_claims_describe_user_client_and_login(tokens, rp, jwks, user):
    claims = verify_access_token(tokens["access_token"], jwks=jwks, audience=rp.client_id)
    id_claims = validate_id_token(tokens["id_token"], jwks=jwks, audience=rp.client_id)
    assert claims["iss"] == ISSUER
    assert claims["sub"] == user.subject == id_claims["sub"]
    assert claims["aud"] == rp.client_id
    assert claims["client_id"] == rp.client_id
    assert claims["scope"].split() == tokens["scope"].split()
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]
    assert uuid.UUID(claims["jti"])
    # RFC 9068 §2.2.1: how and when the user authenticated, as in the ID token.
    assert claims["auth_time"] == id_claims["auth_time"]
    assert claims["acr"] == id_claims["acr"] == "pwd"


def test_access_token_jti_differs_per_token(logged_in, rp, client, jwks):
    first = verify_access_token(
        code_flow(logged_in, client, rp)[0]["access_token"], jwks=jwks, audience=rp.client_id
    )
    second = verify_access_token(
        code_flow(logged_in, client, rp)[0]["access_token"], jwks=jwks, audience=rp.client_id
    )
    assert first["jti"] != second["jti"]


def test_access_token_client_credentials_subject_is_the_client(machine, client, jwks):
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=machine.client_id)
    # RFC 9068 §2.2: with no end user, sub is the client.
    assert claims["sub"] == machine.client_id
    assert claims["client_id"] == machine.client_id
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims.get("scope", "").split() == []
    assert "auth_time" not in claims and "acr" not in claims


@pytest.mark.parametrize("algorithm", ["PS256", "ES256", "EdDSA"])
def test_access_token_is_signed_with_the_algorithm_the_client_chose(
    algorithm, make_client, signing_keys, client
):
    machine = make_client(
        name="Billing job",
        redirect_uris=[],
        grant_types=["client_credentials"],
        access_token_algorithm=algorithm,
    )
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200, response.content
    access_token = response.json()["access_token"]
    header = header_of(access_token)
    assert header["alg"] == algorithm
    assert header["typ"] == "at+jwt"
    jwks = client.get(JWKS).json()
    assert {key["kid"]: key for key in jwks["keys"]}[header["kid"]]["alg"] == algorithm
    claims = verify_access_token(access_token, jwks=jwks, audience=machine.client_id, algorithm=algorithm)
    assert claims["sub"] == machine.client_id
    # A resource server that accepts RS256 only refuses it: the choice is the client's to make.
    with pytest.raises(UnsupportedAlgorithmError):
        verify_access_token(access_token, jwks=jwks, audience=machine.client_id)
    assert introspection(client, machine, access_token)["active"] is True


def test_access_token_es256_from_the_code_flow_works_at_userinfo(
    make_client, signing_keys, logged_in, client, user
):
    rp = make_client(access_token_algorithm="ES256")
    body, _result = code_flow(logged_in, client, rp)
    jwks = client.get(JWKS).json()
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=rp.client_id, algorithm="ES256")
    assert claims["sub"] == user.subject
    # The ID token keeps its own algorithm (the client's id_token_signed_response_alg).
    assert header_of(body["id_token"])["alg"] == "RS256"
    response = client.get(USERINFO, **bearer(body["access_token"]))
    assert response.status_code == 200
    assert response.json()["sub"] == user.subject
    refreshed = refreshed_tokens(client, rp, body["refresh_token"])
    assert header_of(refreshed["access_token"])["alg"] == "ES256"


def test_access_token_audience_is_the_resource_of_the_authorization_request(logged_in, rp, client, jwks):
    # RFC 8707 §2: the resource is named in the authorization request only.
    body, _result = code_flow(logged_in, client, rp, resource=API)
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=API)
    assert claims["aud"] == API
    assert claims["client_id"] == rp.client_id
    # Introspection and the JWT agree on the audience.
    assert introspection(client, rp, body["access_token"])["aud"] == [API]
    # A refresh without resource keeps it (RFC 8707 §2.2).
    refreshed = refreshed_tokens(client, rp, body["refresh_token"])
    assert verify_access_token(refreshed["access_token"], jwks=jwks, audience=API)["aud"] == API
    assert introspection(client, rp, refreshed["access_token"])["aud"] == [API]


def test_access_token_audience_is_the_resource_of_the_token_request(logged_in, rp, client, jwks):
    body, _result = code_flow(logged_in, client, rp, resource=API, token_extra={"resource": API})
    assert verify_access_token(body["access_token"], jwks=jwks, audience=API)["aud"] == API
    assert introspection(client, rp, body["access_token"])["aud"] == [API]


def test_access_token_audience_lists_every_requested_resource(logged_in, rp, client, jwks):
    other = "https://reports.example.com/"
    body, _result = code_flow(logged_in, client, rp, resource=[API, other])
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=other)
    assert claims["aud"] == [API, other]
    assert introspection(client, rp, body["access_token"])["aud"] == [API, other]


def test_access_token_refuses_a_resource_beyond_the_grant(logged_in, rp, client):
    result = authorize(logged_in, rp, resource=API)
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": result.verifier,
        "client_id": rp.client_id,
        "client_secret": rp.client_secret,
        "resource": "https://elsewhere.example.com/",
    }
    response = client.post(TOKEN, data)
    # RFC 8707 §2.2: a token request may narrow the granted resources, never widen them.
    assert response.status_code == 400
    # RFC 6749 §5.2: a JSON error body, not stored.
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == "invalid_target"


def test_access_token_works_at_userinfo(tokens, client, user):
    response = client.get(USERINFO, **bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["sub"] == user.subject
    assert response.json()["email"] == "alice@example.com"


def test_access_token_introspects_active_with_its_claims(tokens, rp, client, jwks):
    claims = verify_access_token(tokens["access_token"], jwks=jwks, audience=rp.client_id)
    described = introspection(client, rp, tokens["access_token"])
    assert described["active"] is True
    assert described["iss"] == claims["iss"]
    assert described["sub"] == claims["sub"]
    assert described["client_id"] == claims["client_id"]
    assert described["scope"].split() == claims["scope"].split()
    assert described["aud"] == [claims["aud"]]
    assert described["auth_time"] == claims["auth_time"]
    assert described["acr"] == claims["acr"]


def test_access_token_revoked_fails_at_userinfo_and_introspects_inactive(tokens, rp, client):
    access_token = tokens["access_token"]
    assert client.get(USERINFO, **bearer(access_token)).status_code == 200
    revoked = client.post(
        REVOKE,
        {"token": access_token, "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert revoked.status_code == 200
    response = client.get(USERINFO, **bearer(access_token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert introspection(client, rp, access_token) == {"active": False}


def test_userinfo_rejects_an_id_token_as_bearer(tokens, rp, client, jwks):
    # The ID token is a valid JWT from the same issuer for the same audience, but it is not an
    # access token (OIDC Core 1.0 §5.3.1, RFC 9068 §4).
    validate_id_token(tokens["id_token"], jwks=jwks, audience=rp.client_id)
    response = client.get(USERINFO, **bearer(tokens["id_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert introspection(client, rp, tokens["id_token"]) == {"active": False}


def test_access_token_opaque_format_is_not_a_jwt_and_works(
    make_client, signing_keys, logged_in, client, user
):
    rp = make_client(access_token_format=Client.AccessTokenFormat.OPAQUE)
    body, result = code_flow(logged_in, client, rp)
    access_token = body["access_token"]
    with pytest.raises(DecodeError):
        jwt.decode(access_token, KeySet.import_key_set(client.get(JWKS).json()), algorithms=["RS256"])
    assert "." not in access_token
    # As oauthlib makes them: 30 characters of [A-Za-z0-9]; so is the refresh token.
    assert re.fullmatch(r"[A-Za-z0-9]{30}", access_token)
    assert re.fullmatch(r"[A-Za-z0-9]{30}", body["refresh_token"])
    # The ID token still binds it (at_hash), and it is a bearer credential like a JWT one.
    validate_id_token(
        body["id_token"],
        jwks=client.get(JWKS).json(),
        audience=rp.client_id,
        nonce=result.nonce,
        access_token=access_token,
    )
    response = client.get(USERINFO, **bearer(access_token))
    assert response.status_code == 200
    assert response.json()["sub"] == user.subject
    described = introspection(client, rp, access_token)
    assert described["active"] is True
    assert described["sub"] == user.subject


def test_access_token_refresh_gives_new_jwt_with_original_auth_time(tokens, rp, client, jwks):
    original = verify_access_token(tokens["access_token"], jwks=jwks, audience=rp.client_id)
    refreshed = refreshed_tokens(client, rp, tokens["refresh_token"])
    assert refreshed["access_token"] != tokens["access_token"]
    claims = verify_access_token(refreshed["access_token"], jwks=jwks, audience=rp.client_id)
    assert claims["jti"] != original["jti"]
    assert claims["sub"] == original["sub"]
    # OIDC Core 1.0 §12.2: the user did not authenticate again.
    assert claims["auth_time"] == original["auth_time"]
    assert claims["acr"] == original["acr"]
    assert claims["exp"] - claims["iat"] == refreshed["expires_in"]
    assert client.get(USERINFO, **bearer(refreshed["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("option", "is_jwt", "algorithm"),
    [
        ([], True, "RS256"),
        (["--access-token-alg", "ES256"], True, "ES256"),
        (["--access-token-format", "opaque"], False, None),
    ],
)
def test_createclient_access_token_format(option, is_jwt, algorithm, signing_keys, logged_in, client, user):
    out = StringIO()
    redirect_uri = "https://cli-made.example.com/cb"
    call_command("createclient", "CLI app", "--redirect-uri", redirect_uri, *option, "--json", stdout=out)
    data = json.loads(out.getvalue())
    model = Client.objects.get(client_id=data["client_id"])
    shown = StringIO()
    call_command("showclient", data["client_id"], "--json", stdout=shown)
    assert json.loads(shown.getvalue())["access_token_signed_response_alg"] == model.access_token_algorithm
    registered = RegisteredClient(data["client_id"], data["client_secret"], redirect_uri, model)

    access_token = code_flow(logged_in, client, registered)[0]["access_token"]
    if is_jwt:
        jwks = client.get(JWKS).json()
        claims = verify_access_token(access_token, jwks=jwks, audience=data["client_id"], algorithm=algorithm)
        assert claims["sub"] == user.subject
    else:
        assert "." not in access_token
    assert client.get(USERINFO, **bearer(access_token)).json()["sub"] == user.subject
