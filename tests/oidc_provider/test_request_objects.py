"""Request objects: authorization parameters in a signed JWT (OIDC Core 1.0 §6, RFC 9101).

``request_uri`` documents are served by a real https server on loopback (tests/sector_server.py).
"""

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError

from tests.client_assertions import client_key, public_set, signed, unsigned
from tests.conftest import ISSUER, AuthorizationResult, exchange, pkce_pair, query_of, validate_id_token
from tests.sector_server import SectorServer, make_certificates


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("request-uri-tls"))


@pytest.fixture
def objects_server(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
    server = SectorServer(certificates).start()
    yield server
    server.stop()


@pytest.fixture
def key():
    return client_key("ES256")


@pytest.fixture
def app(make_client, signing_keys, key):
    """A web app with a registered ES256 key for its request objects."""
    return make_client(name="Object app", client_keys={"jwks": public_set(key)})


def object_claims(app, **overrides) -> dict:
    """Return a full authorization request as request object claims, with its PKCE verifier under ``_v``."""
    verifier, challenge = pkce_pair()
    claims = {
        "iss": app.client_id,
        "aud": ISSUER,
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": app.redirect_uri,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "_v": verifier,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def jwt_of(claims: dict, key, alg="ES256") -> str:
    return signed({name: value for name, value in claims.items() if name != "_v"}, key, alg)


def send(browser, query: dict):
    """Send an authorization request; answer the consent page if one is shown; return the response."""
    response = browser.get("/o/authorize/", query)
    if response.status_code == 200 and b"request_id" in response.content:
        response = browser.post(
            "/o/authorize/consent/", {"request_id": response.context["request_id"], "allow": "1"}
        )
    return response


def code_of(response, claims: dict) -> AuthorizationResult:
    assert response.status_code == 302, response.content[:500]
    query = query_of(response["Location"])
    assert "code" in query, query
    return AuthorizationResult(
        query["code"], claims["_v"], claims.get("nonce", ""), query.get("state", ""), response
    )


def error_of(response) -> dict[str, str]:
    assert response.status_code == 302, response.content[:500]
    return query_of(response["Location"])


def test_request_objects_signed_object_carries_the_whole_request(client, logged_in, app, key):
    claims = object_claims(app)
    response = send(logged_in, {"client_id": app.client_id, "response_type": "code", "scope": "openid",
                                "request": jwt_of(claims, key)})  # fmt: skip
    result = code_of(response, claims)
    assert response["Location"].startswith(app.redirect_uri)
    assert result.state == claims["state"]
    tokens = exchange(client, app, result).json()
    jwks = client.get("/o/jwks/").json()
    id_claims = validate_id_token(
        tokens["id_token"], jwks=jwks, audience=app.client_id, nonce=claims["nonce"]
    )
    assert id_claims["nonce"] == claims["nonce"]


def test_request_objects_object_values_win_over_the_query(client, logged_in, app, key):
    claims = object_claims(app)
    query = {"client_id": app.client_id, "response_type": "code", "scope": "openid", "state": "from-query",
             "nonce": "from-query", "request": jwt_of(claims, key)}  # fmt: skip
    result = code_of(send(logged_in, query), claims)
    assert result.state == claims["state"]
    tokens = exchange(client, app, result).json()
    id_claims = validate_id_token(
        tokens["id_token"], jwks=client.get("/o/jwks/").json(), audience=app.client_id, nonce=claims["nonce"]
    )
    assert id_claims["nonce"] != "from-query"


def test_request_objects_query_fills_what_the_object_leaves_out(client, logged_in, app, key):
    claims = object_claims(app, state=None)
    query = {"client_id": app.client_id, "response_type": "code", "scope": "openid", "state": "from-query",
             "request": jwt_of(claims, key)}  # fmt: skip
    assert code_of(send(logged_in, query), claims).state == "from-query"


def base_query(app, **extra) -> dict:
    return {
        "client_id": app.client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": app.redirect_uri,
        "state": "query-state",
        **extra,
    }


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        pytest.param({"client_id": "someone-else"}, "client_id", id="client_id-mismatch"),
        pytest.param({"response_type": "token"}, "response_type", id="response_type-mismatch"),
        pytest.param({"iss": "someone-else"}, "iss", id="wrong-iss"),
        pytest.param({"aud": "https://other.example.com"}, "aud", id="wrong-aud"),
        pytest.param({"exp": 1_000_000_000}, "expired", id="expired"),
        pytest.param({"nbf": 4_000_000_000}, "not valid yet", id="not-yet-valid"),
        pytest.param({"max_age": [1]}, "max_age", id="non-string-value"),
    ],
)
def test_request_objects_refused_claims_are_sent_to_the_client(logged_in, app, key, overrides, description):
    claims = object_claims(app, **overrides)
    error = error_of(send(logged_in, base_query(app, request=jwt_of(claims, key))))
    assert error["error"] == "invalid_request_object"
    assert description in error["error_description"]
    # The request's own (query) state: the object's is not to be trusted.
    assert error["state"] == "query-state"


def test_request_objects_unsigned_object_is_refused_unless_registered(
    logged_in, make_client, app, signing_keys
):
    error = error_of(send(logged_in, base_query(app, request=unsigned(object_claims(app)))))
    assert error["error"] == "invalid_request_object"
    relaxed = make_client(name="Unsigned app", client_keys={"request_object_signing_alg": "none"})
    claims = object_claims(relaxed)
    assert code_of(send(logged_in, base_query(relaxed, request=unsigned(claims))), claims).code


def test_request_objects_other_key_or_algorithm_is_refused(logged_in, make_client, signing_keys, key):
    strict = make_client(
        name="RS app",
        client_keys={"jwks": public_set(key, client_key("RS256")), "request_object_signing_alg": "RS256"},
    )
    claims = object_claims(strict)
    # Signed with a registered key, but not with the registered algorithm.
    error = error_of(send(logged_in, base_query(strict, request=jwt_of(claims, key))))
    assert error["error"] == "invalid_request_object"
    other = client_key("RS256")
    error = error_of(send(logged_in, base_query(strict, request=jwt_of(claims, other, "RS256"))))
    assert error["error"] == "invalid_request_object"


def test_request_objects_hs256_with_the_public_key_is_refused(logged_in, app, key):
    from tests.client_assertions import secret_key

    forged = signed(object_claims(app), secret_key(key.export_public()), "HS256", kid=None)
    assert error_of(send(logged_in, base_query(app, request=forged)))["error"] == "invalid_request_object"


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "e30.e30.e30.e30.e30", "x" * 40000, "eyJhbGciOiJFUzI1NiJ9.e30."]
)
def test_request_objects_malformed_objects_are_invalid_request_object(logged_in, app, token):
    error = error_of(send(logged_in, base_query(app, request=token)))
    assert error["error"] == "invalid_request_object"


def test_request_objects_errors_go_to_the_error_page_without_a_known_redirect_uri(logged_in, app):
    response = send(logged_in, base_query(app, redirect_uri="https://evil.example.com/cb", request="garbage"))
    assert response.status_code == 400
    assert "evil.example.com" not in response.get("Location", "")


def test_request_objects_request_and_request_uri_together_are_refused(logged_in, app, key):
    query = base_query(
        app, request=jwt_of(object_claims(app), key), request_uri="https://rp.example.com/r.jwt"
    )
    assert error_of(send(logged_in, query))["error"] == "invalid_request"


def test_request_objects_required_signed_object(client, logged_in, make_client, signing_keys, key):
    strict = make_client(
        name="Strict app", client_keys={"jwks": public_set(key), "require_signed_request_object": True}
    )
    # A plain request is refused.
    assert error_of(send(logged_in, base_query(strict)))["error"] == "invalid_request"
    # Only the object's parameters count: the query's state and nonce are ignored.
    claims = object_claims(strict, state=None)
    query = base_query(strict, nonce="from-query", request=jwt_of(claims, key))
    result = code_of(send(logged_in, query), claims)
    assert result.state == ""
    tokens = exchange(client, strict, result).json()
    id_claims = validate_id_token(
        tokens["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=strict.client_id,
        nonce=claims["nonce"],
    )
    assert id_claims["nonce"] == claims["nonce"]


def test_request_objects_sign_in_returns_to_the_request_object(browser, user, app, key):
    claims = object_claims(app)
    token = jwt_of(claims, key)
    response = browser.get(
        "/o/authorize/", {"client_id": app.client_id, "response_type": "code", "request": token}
    )
    assert response.status_code == 302
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    # The sign-in page returns to the request as sent, which is checked again then.
    assert parse_qs(urlsplit(next_url).query)["request"] == [token]
    assert "nonce" not in parse_qs(urlsplit(next_url).query)


# --- request_uri ---------------------------------------------------------------------------------


def test_request_objects_request_uri_is_fetched_when_registered(
    logged_in, make_client, signing_keys, key, objects_server
):
    uri = objects_server.url("/request.jwt")
    web = make_client(name="URI app", client_keys={"jwks": public_set(key), "request_uris": uri})
    claims = object_claims(web)
    objects_server.documents["/request.jwt"] = jwt_of(claims, key).encode()
    query = {"client_id": web.client_id, "response_type": "code", "scope": "openid", "request_uri": uri}
    assert code_of(send(logged_in, query), claims).state == claims["state"]
    assert objects_server.requests == ["/request.jwt"]


def test_request_objects_unregistered_request_uri_is_never_fetched(logged_in, app, key, objects_server):
    uri = objects_server.url("/request.jwt")
    objects_server.documents["/request.jwt"] = jwt_of(object_claims(app), key).encode()
    error = error_of(send(logged_in, base_query(app, request_uri=uri)))
    assert error["error"] == "invalid_request_uri"
    assert objects_server.requests == []


@pytest.mark.parametrize("document", [None, b"x" * 40000, b"\xff\xfe"])
def test_request_objects_failing_request_uri_is_invalid_request_uri(
    logged_in, make_client, signing_keys, key, objects_server, document
):
    uri = objects_server.url("/request.jwt")
    web = make_client(name="URI app", client_keys={"jwks": public_set(key), "request_uris": uri})
    if document is not None:
        objects_server.documents["/request.jwt"] = document
    assert error_of(send(logged_in, base_query(web, request_uri=uri)))["error"] == "invalid_request_uri"


def test_request_objects_request_uri_to_an_internal_address_is_refused(
    logged_in, make_client, signing_keys, key, settings
):
    uri = "https://127.0.0.1:9/request.jwt"
    web = make_client(name="URI app", client_keys={"jwks": public_set(key), "request_uris": uri})
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}
    error = error_of(send(logged_in, base_query(web, request_uri=uri)))
    assert error["error"] == "invalid_request_uri"
    assert "loopback" in error["error_description"]


def test_request_objects_discovery(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["request_parameter_supported"] is True
    assert document["request_uri_parameter_supported"] is True
    assert document["require_request_uri_registration"] is True
    assert document["request_object_signing_alg_values_supported"] == [
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
        "none",
    ]


def test_request_objects_request_uris_must_be_https_and_public(make_client, signing_keys, key, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}
    for uri, problem in (
        ("http://rp.example.com/r.jwt", "https"),
        ("https://169.254.169.254/r.jwt", "link-local"),
    ):
        with pytest.raises(ValidationError) as error:
            make_client(name="URI app", client_keys={"jwks": public_set(key), "request_uris": uri})
        assert problem in str(error.value.message_dict["request_uris"])


def test_request_objects_prompt_create_in_object_opens_signup_once(logged_in, app, key, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "open"}
    claims = object_claims(app, prompt="create")
    query = {
        "client_id": app.client_id,
        "response_type": "code",
        "scope": "openid",
        "request": jwt_of(claims, key),
    }
    first = logged_in.get("/o/authorize/", query)
    assert first.status_code == 302 and first["Location"].startswith("/accounts/signup/?next=")
    # Where sign-up returns to: the same object (still asking for create), noted as answered.
    back = query_of(first["Location"])["next"]
    assert "request=" in back
    result = code_of(send(logged_in, query_of(back)), claims)
    assert result.state == claims["state"]
