"""Dynamic client registration (RFC 7591, OIDC Registration 1.0) as a relying party sees it."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from oidc_provider import rotation
from oidc_provider.models import Algorithm, Client, RegistrationToken
from oidc_provider.registration import registration_token_create
from tests.conftest import RegisteredClient, authorize, basic_auth, exchange, validate_id_token
from tests.oauth import register
from tests.tokens import header_of

REDIRECT = "https://dyn.example.com/cb"


def as_registered(body: dict) -> RegisteredClient:
    client = Client.objects.get(client_id=body["client_id"])
    return RegisteredClient(body["client_id"], body.get("client_secret"), body["redirect_uris"][0], client)


def test_registration_confidential_client_gets_secret_and_defaults(client, signing_keys, initial_token):
    response = register(client, {"redirect_uris": [REDIRECT], "client_name": "Dyn app"}, token=initial_token)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["client_id"] and body["client_secret"]
    assert body["client_secret_expires_at"] == 0
    assert abs(body["client_id_issued_at"] - timezone.now().timestamp()) < 60
    assert body["client_name"] == "Dyn app"
    assert body["redirect_uris"] == [REDIRECT]
    # RFC 7591 §2 defaults.
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["id_token_signed_response_alg"] == "RS256"
    registered = Client.objects.get(client_id=body["client_id"])
    assert registered.skip_authorization is False
    assert registered.may_introspect is False
    assert registered.client_secret != body["client_secret"]  # stored hashed
    assert AuditEvent.objects.filter(action="client.register", target=body["client_id"]).exists()


def test_registration_confidential_client_completes_code_flow(client, signing_keys, initial_token, logged_in):
    body = register(
        client,
        {"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"]},
        token=initial_token,
    ).json()
    registered = as_registered(body)
    result = authorize(logged_in, registered)
    # A dynamically registered client is third-party: the user was asked (authorize() posted consent).
    assert result.code
    tokens = exchange(client, registered, result).json()
    claims = validate_id_token(
        tokens["id_token"], jwks=signing_keys.jwks, audience=registered.client_id, nonce=result.nonce
    )
    assert claims["sub"]
    assert tokens["refresh_token"]


def test_registration_consent_page_is_shown(client, signing_keys, initial_token, logged_in):
    body = register(client, {"redirect_uris": [REDIRECT]}, token=initial_token).json()
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": body["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 200
    assert b"request_id" in response.content


def test_registration_public_client_has_no_secret_and_uses_pkce(
    client, signing_keys, initial_token, logged_in
):
    response = register(
        client,
        {"redirect_uris": ["http://127.0.0.1:9000/cb"], "token_endpoint_auth_method": "none"},
        token=initial_token,
    )
    assert response.status_code == 201
    body = response.json()
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "none"
    registered = as_registered(body)
    assert registered.model.client_type == Client.CLIENT_PUBLIC
    result = authorize(logged_in, registered)
    tokens = exchange(client, registered, result).json()
    validate_id_token(tokens["id_token"], jwks=signing_keys.jwks, audience=registered.client_id)


@pytest.mark.parametrize("algorithm", [Algorithm.ES256, Algorithm.EDDSA, Algorithm.PS256])
def test_registration_chosen_alg_signs_id_token(client, signing_keys, initial_token, logged_in, algorithm):
    body = register(
        client, {"redirect_uris": [REDIRECT], "id_token_signed_response_alg": algorithm}, token=initial_token
    ).json()
    assert body["id_token_signed_response_alg"] == algorithm
    registered = as_registered(body)
    tokens = exchange(client, registered, authorize(logged_in, registered)).json()
    header = header_of(tokens["id_token"])
    assert header["alg"] == algorithm
    validate_id_token(tokens["id_token"], jwks=signing_keys.jwks, audience=registered.client_id)


def test_registration_client_credentials_client_gets_tokens(client, signing_keys, initial_token):
    body = register(client, {"grant_types": ["client_credentials"]}, token=initial_token).json()
    assert body["response_types"] == []
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(body["client_id"], body["client_secret"]),
    )
    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


def test_registration_ignores_unknown_metadata(client, signing_keys, initial_token):
    response = register(
        client,
        {"redirect_uris": [REDIRECT], "logo_uri": "https://x", "x_custom": {"a": [1]}},
        token=initial_token,
    )
    assert response.status_code == 201
    assert "x_custom" not in response.json() and "logo_uri" not in response.json()


def test_registration_without_token_is_refused(client, signing_keys):
    response = register(client, {"redirect_uris": [REDIRECT]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    # RFC 6750 §3.1: no error code in the challenge when no token was sent.
    assert response["WWW-Authenticate"] == 'Bearer realm="registration"'
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-real-token", "Basic Zm9vOmJhcg==", "Bearer ", "Bearer \x00"]
)
def test_registration_with_invalid_token_is_refused(client, signing_keys, initial_token, authorization):
    response = client.post(
        "/o/register/",
        json.dumps({"redirect_uris": [REDIRECT]}),
        "application/json",
        HTTP_AUTHORIZATION=authorization,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Client.objects.exists()


def test_registration_expired_token_is_refused(client, signing_keys):
    _, value = registration_token_create(label="old", expires=timezone.now() - timedelta(seconds=1))
    response = register(client, {"redirect_uris": [REDIRECT]}, token=value)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_registration_token_used_up_after_max_uses(client, signing_keys):
    token, value = registration_token_create(
        label="once", expires=timezone.now() + timedelta(hours=1), max_uses=1
    )
    assert register(client, {"redirect_uris": ["https"]}, token=value).status_code == 400
    # A refused registration does not spend a use.
    assert register(client, {"redirect_uris": [REDIRECT]}, token=value).status_code == 201
    second = register(client, {"redirect_uris": [REDIRECT]}, token=value)
    assert second.status_code == 401
    assert second.json()["error"] == "invalid_token"
    token.refresh_from_db()
    assert token.uses == 1
    assert Client.objects.count() == 1


def test_registration_open_when_configured(client, signing_keys, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OPEN_REGISTRATION": True}
    response = register(client, {"redirect_uris": [REDIRECT]})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "metadata",
    [
        {"redirect_uris": ["not a uri"]},
        {"redirect_uris": ["/relative/cb"]},
        {"redirect_uris": ["https://dyn.example.com/cb#frag"]},
        {"redirect_uris": ["http://dyn.example.com/cb"]},
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["https://dyn.example.com:99999/cb"]},
        {"redirect_uris": ["https://[::1/cb"]},
        {"redirect_uris": ["https://dyn.example.com/" + "a" * 5000]},
        {"redirect_uris": [f"https://dyn{i}.example.com/cb" for i in range(50)]},
        {"redirect_uris": "https://dyn.example.com/cb"},
        {"redirect_uris": [1, 2]},
        {"redirect_uris": ["https://dyn.example.com/\ud800"]},
        {"redirect_uris": ["https://dyn.example.com/\x00"]},
        {"redirect_uris": []},
        {},
    ],
)
def test_registration_bad_redirect_uri(client, signing_keys, initial_token, metadata):
    response = register(client, metadata, token=initial_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert response.json()["error_description"]
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    "metadata",
    [
        {"grant_types": ["implicit"]},
        {"grant_types": ["password"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": []},
        {"grant_types": "authorization_code"},
        {"grant_types": [None]},
        {"response_types": ["token"]},
        {"response_types": ["code id_token"]},
        {"response_types": []},
        {"grant_types": ["client_credentials"], "response_types": ["code"]},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"token_endpoint_auth_method": ["none"]},
        {"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]},
        {"id_token_signed_response_alg": "HS256", "token_endpoint_auth_method": "none"},
        {"id_token_signed_response_alg": "none"},
        {"id_token_signed_response_alg": 256},
        {"id_token_encrypted_response_alg": "RSA-OAEP"},
        {"userinfo_signed_response_alg": "none"},
        {"userinfo_signed_response_alg": "HS256", "token_endpoint_auth_method": "none"},
        {"userinfo_encrypted_response_alg": "RSA-OAEP"},
        {"subject_type": "ppid"},
        {"subject_type": "pairwise", "sector_identifier_uri": "http://sector.example.com/uris.json"},
        {"application_type": "desktop"},
        {"client_name": "x" * 1000},
        {"client_name": {"en": "x"}},
        {"client_name": "nul\x00name"},
        {"client_name": "lone \ud800 surrogate"},
        {"post_logout_redirect_uris": ["https://dyn.example.com/\udfff"]},
        {"grant_types": ["authorization_code", "\ud800"]},
        {"post_logout_redirect_uris": ["ftp://dyn.example.com/bye"]},
        {"post_logout_redirect_uris": "https://dyn.example.com/bye"},
    ],
)
def test_registration_invalid_metadata(client, signing_keys, initial_token, metadata):
    response = register(client, {"redirect_uris": [REDIRECT], **metadata}, token=initial_token)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_client_metadata"
    assert not Client.objects.exists()


def test_registration_alg_without_active_key_is_refused(client, db, initial_token):
    rotation.keys_rotate(algorithms=[Algorithm.RS256])
    response = register(
        client, {"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "ES256"}, token=initial_token
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert "RS256" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("redirect_uris=https://dyn.example.com/cb", "application/x-www-form-urlencoded"),
        ('{"redirect_uris": ["https://dyn.example.com/cb"]}', "text/plain"),
        ("{not json", "application/json"),
        ("", "application/json"),
        ('["https://dyn.example.com/cb"]', "application/json"),
        ("null", "application/json"),
        ('"string"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
        ("[" * 20_000 + "]" * 20_000, "application/json"),
        ('{"redirect_uris": ["https://dyn.example.com/cb"], "n": ' + "9" * 5000 + "}", "application/json"),
    ],
)
def test_registration_unparseable_body(client, signing_keys, initial_token, body, content_type):
    response = register(client, body, token=initial_token, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_registration_only_post(client, signing_keys, initial_token):
    assert client.get("/o/register/", HTTP_AUTHORIZATION=f"Bearer {initial_token}").status_code == 405


def test_discovery_lists_registration_endpoint(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["registration_endpoint"] == "http://127.0.0.1:8000/o/register/"


def test_admin_creates_initial_access_token_shown_once(staff, root, signing_keys):
    client = staff
    expires = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    date, time = expires.split(" ")
    response = client.post(
        "/admin/oidc_provider/registrationtoken/add/",
        {"label": "Partner X", "expires_0": date, "expires_1": time, "max_uses": "3"},
        follow=True,
    )
    assert response.status_code == 200
    value = re.search(r'<code id="registration-token">([^<]+)</code>', response.content.decode()).group(1)
    token = RegistrationToken.objects.get(label="Partner X")
    assert token.max_uses == 3 and token.created_by == root
    assert AuditEvent.objects.filter(action="registration_token.create", target="Partner X").exists()
    for page in (
        client.get("/admin/oidc_provider/registrationtoken/"),
        client.get(f"/admin/oidc_provider/registrationtoken/{token.pk}/change/"),
    ):
        assert page.status_code == 200
        assert value not in page.content.decode()
        assert token.token_hash not in page.content.decode()
    client.logout()
    assert register(client, {"redirect_uris": [REDIRECT]}, token=value).status_code == 201
