"""Native apps (RFC 8252): private-use URI scheme redirects, as the app and its user see them."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from oidc_provider.models import Client
from oidc_provider.services import client_create
from tests.conftest import RegisteredClient, authorize, exchange, query_of, validate_id_token
from tests.oauth import register

NATIVE = "com.example.app:/oauth2redirect"


@pytest.fixture
def native_app(make_client, signing_keys) -> RegisteredClient:
    return make_client(name="Phone app", public=True, redirect_uris=[NATIVE], post_logout_redirect_uris=())


def test_native_apps_code_flow_redirects_to_private_use_scheme(native_app, logged_in, client, signing_keys):
    result = authorize(logged_in, native_app)
    # The browser stops here: the OS hands com.example.app: URIs to the app.
    location = result.response["Location"]
    assert location.startswith(NATIVE + "?")
    assert query_of(location)["code"] == result.code
    assert query_of(location)["state"] == result.state
    # The app redeems the code with its PKCE verifier, no secret (RFC 8252 §8.1).
    tokens = exchange(client, native_app, result)
    assert tokens.status_code == 200, tokens.content
    claims = validate_id_token(
        tokens.json()["id_token"], jwks=signing_keys.jwks, audience=native_app.client_id, nonce=result.nonce
    )
    assert claims["sub"]


def test_native_apps_redirect_uri_must_match_exactly(native_app, logged_in):
    for other in (
        "com.example.app:/other",
        "com.example.app:/oauth2redirect/x",
        "com.evil.app:/oauth2redirect",
    ):
        response = logged_in.get(
            "/o/authorize/",
            {
                "response_type": "code",
                "client_id": native_app.client_id,
                "redirect_uri": other,
                "scope": "openid",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            },
        )
        # OIDC Core 1.0 §3.1.2.6: never redirected to an unregistered URI; the user sees the error.
        assert response.status_code == 400, other
        assert "Location" not in response


def test_native_apps_without_pkce_is_refused(native_app, logged_in):
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": native_app.client_id,
            "redirect_uri": NATIVE,
            "scope": "openid",
        },
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(NATIVE + "?")
    assert query_of(location)["error"] == "invalid_request"


def test_native_apps_confidential_client_is_refused_a_private_use_scheme(db, signing_keys):
    with pytest.raises(ValidationError) as refused:
        client_create(name="Server app", redirect_uris=[NATIVE])
    message = " ".join(refused.value.message_dict["redirect_uris"])
    assert "public" in message and "RFC 8252" in message


@pytest.mark.parametrize(
    "uri",
    [
        "myapp:/callback",  # not reverse-domain
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "com.example.app:/callback#frag",
        "com..example:/cb",
    ],
)
def test_native_apps_refuses_dangerous_or_non_reverse_domain_schemes(db, signing_keys, uri):
    with pytest.raises(ValidationError) as refused:
        client_create(name="Phone app", redirect_uris=[uri], public=True)
    assert "redirect_uris" in refused.value.message_dict


def test_native_apps_createclient_accepts_private_use_scheme_for_public_client(db, signing_keys, capsys):
    call_command("createclient", "Phone app", "--public", "--redirect-uri", NATIVE)
    assert Client.objects.get(name="Phone app").redirect_uris == NATIVE


def test_native_apps_createclient_refuses_private_use_scheme_for_confidential_client(db, signing_keys):
    with pytest.raises(CommandError) as refused:
        call_command("createclient", "Server app", "--redirect-uri", NATIVE)
    assert "RFC 8252" in str(refused.value)


def test_native_apps_dynamic_registration_native_accepts_private_use_scheme(
    client, signing_keys, initial_token, logged_in
):
    response = register(
        client,
        {"redirect_uris": [NATIVE], "token_endpoint_auth_method": "none", "application_type": "native"},
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["redirect_uris"] == [NATIVE]
    registered = RegisteredClient(
        body["client_id"], None, NATIVE, Client.objects.get(client_id=body["client_id"])
    )
    result = authorize(logged_in, registered)
    assert result.response["Location"].startswith(NATIVE + "?")
    assert exchange(client, registered, result).status_code == 200


def test_native_apps_dynamic_registration_web_refuses_private_use_scheme(client, signing_keys, initial_token):
    response = register(
        client, {"redirect_uris": [NATIVE], "token_endpoint_auth_method": "none"}, token=initial_token
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert "native" in response.json()["error_description"]


def test_native_apps_dynamic_registration_confidential_refused(client, signing_keys, initial_token):
    response = register(
        client, {"redirect_uris": [NATIVE], "application_type": "native"}, token=initial_token
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert "public" in response.json()["error_description"]
