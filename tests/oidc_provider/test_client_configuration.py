"""Managing a dynamic registration through the client configuration endpoint (RFC 7592)."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as BrowserClient

from audit.models import AuditEvent
from oidc_provider.client_configuration import registration_find, registration_update
from oidc_provider.models import AccessToken, Client, ClientRegistration
from oidc_provider.registration import RegistrationError
from tests.client_assertions import client_key, public_set
from tests.conftest import PASSWORD, RegisteredClient, authorize, exchange, sign_in
from tests.oauth import introspection, register

REDIRECT = "https://dyn.example.com/cb"
ISSUER_PATH = "/o/register/"


@pytest.fixture
def registered(client, signing_keys, initial_token) -> dict:
    """The registration response of a confidential client that registered itself."""
    response = register(
        client,
        {
            "redirect_uris": [REDIRECT],
            "client_name": "Dyn app",
            "token_endpoint_auth_method": "client_secret_post",
        },
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    return response.json()


def as_registered(body: dict) -> RegisteredClient:
    client = Client.objects.get(client_id=body["client_id"])
    return RegisteredClient(body["client_id"], body.get("client_secret"), REDIRECT, client)


def path_of(body: dict) -> str:
    uri = body["registration_client_uri"]
    return uri[uri.index(ISSUER_PATH) :]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def put(http, body: dict, document: dict, *, token: str | None = None):
    headers = bearer(token if token is not None else body["registration_access_token"])
    return http.put(path_of(body), json.dumps(document), content_type="application/json", headers=headers)


def document_of(body: dict, **changes) -> dict:
    """The metadata as read back, changed: what a client sends to replace its registration."""
    return {
        key: value
        for key, value in {**body, **changes}.items()
        if key
        not in {
            "registration_access_token",
            "registration_client_uri",
            "client_id_issued_at",
            "client_secret_expires_at",
        }
        and value is not None
    }


def test_registration_response_names_configuration_endpoint_and_token(registered):
    assert registered["registration_client_uri"].endswith(f"/o/register/{registered['client_id']}/")
    assert registered["registration_client_uri"].startswith("http")
    token = registered["registration_access_token"]
    assert len(token) >= 40
    stored = ClientRegistration.objects.get(client__client_id=registered["client_id"])
    # Stored hashed: the value appears nowhere in the row.
    assert token not in json.dumps([stored.access_token_hash, stored.metadata])


def test_read_returns_registration_without_secret(client, registered):
    response = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["client_id"] == registered["client_id"]
    assert body["client_name"] == "Dyn app"
    assert body["redirect_uris"] == [REDIRECT]
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert body["registration_client_uri"] == registered["registration_client_uri"]
    # The secret and the token are stored hashed: never shown again.
    assert "client_secret" not in body
    assert "registration_access_token" not in body
    same_keys = set(registered) - {"client_secret", "client_secret_expires_at", "registration_access_token"}
    assert set(body) == same_keys


@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic abc", "Bearer "],
)
def test_configuration_refuses_without_its_token(client, registered, method, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = getattr(client, method)(path_of(registered), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")
    if authorization == "Bearer wrong-token":
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert Client.objects.filter(client_id=registered["client_id"]).exists()


def test_configuration_token_works_for_its_own_client_only(client, registered, initial_token):
    other = register(client, {"redirect_uris": ["https://other.example.com/cb"]}, token=initial_token).json()
    response = client.get(path_of(other), headers=bearer(registered["registration_access_token"]))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_initial_access_token_does_not_open_configuration(client, registered, initial_token):
    response = client.get(path_of(registered), headers=bearer(initial_token))
    assert response.status_code == 401


def test_staff_client_has_no_configuration_endpoint(client, rp):
    response = client.get(f"/o/register/{rp.client_id}/", headers=bearer("anything"))
    assert response.status_code == 401
    assert not ClientRegistration.objects.filter(client=rp.model).exists()


def test_update_replaces_metadata_and_rotates_token(client, registered):
    document = document_of(
        registered,
        client_name="Dyn app renamed",
        redirect_uris=[REDIRECT, "https://dyn.example.com/cb2"],
        grant_types=["authorization_code", "refresh_token"],
    )
    response = put(client, registered, document)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["client_name"] == "Dyn app renamed"
    assert body["redirect_uris"] == [REDIRECT, "https://dyn.example.com/cb2"]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    new_token = body["registration_access_token"]
    assert new_token != registered["registration_access_token"]
    assert "client_secret" not in body
    # The old token is refused; the new one reads what was stored.
    old = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert old.status_code == 401
    read = client.get(path_of(registered), headers=bearer(new_token)).json()
    assert read["client_name"] == "Dyn app renamed"
    event = AuditEvent.objects.get(action="client.change", target=registered["client_id"])
    assert event.actor_label == "registration access token"
    assert "name" in event.detail["changed"]


def test_update_found_by_a_token_rotated_since_is_refused(client, registered):
    # Two updates with one token: the second was found by the token before the first rotated it;
    # under the row lock it finds the token spent and changes nothing (the live race:
    # tests/e2e/test_client_configuration.py).
    token = registered["registration_access_token"]
    found = registration_find(client_id=registered["client_id"], value=token)
    assert found is not None
    first = put(client, registered, document_of(registered, client_name="First"))
    assert first.status_code == 200, first.content
    with pytest.raises(RegistrationError) as refused:
        registration_update(registration=found, data=document_of(registered, client_name="Second"))
    assert refused.value.error == "invalid_token"
    assert Client.objects.get(client_id=registered["client_id"]).name == "First"
    new_token = first.json()["registration_access_token"]
    assert client.get(path_of(registered), headers=bearer(new_token)).status_code == 200


def test_update_to_private_key_jwt_takes_the_keys(client, registered):
    # OIDC Registration 1.0 §2: the authentication method and the keys are client metadata, which
    # an update replaces (RFC 7592 §2.2) as registration sets them.
    keys = public_set(client_key("ES256"))
    document = document_of(registered, token_endpoint_auth_method="private_key_jwt", jwks=keys)
    response = put(client, registered, document)
    assert response.status_code == 200, response.content
    assert response.json()["token_endpoint_auth_method"] == "private_key_jwt"
    assert response.json()["jwks"] == keys
    stored = Client.objects.get(client_id=registered["client_id"])
    assert stored.token_endpoint_auth_method == "private_key_jwt"
    assert stored.jwks == keys
    token = response.json()["registration_access_token"]
    read = client.get(path_of(registered), headers=bearer(token)).json()
    assert read["token_endpoint_auth_method"] == "private_key_jwt" and read["jwks"] == keys


def test_update_of_a_key_client_to_a_secret_method_is_refused(client, initial_token, signing_keys):
    keys = public_set(client_key("ES256"))
    body = register(
        client,
        {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": keys},
        token=initial_token,
    ).json()
    assert "client_secret" not in body
    document = document_of(body, token_endpoint_auth_method="client_secret_basic", jwks=None)
    response = put(client, body, document)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert Client.objects.get(client_id=body["client_id"]).token_endpoint_auth_method == "private_key_jwt"


def test_read_returns_the_registered_response_types(client, initial_token, signing_keys):
    body = register(
        client,
        {
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "implicit"],
            "response_types": ["code id_token"],
        },
        token=initial_token,
    ).json()
    read = client.get(path_of(body), headers=bearer(body["registration_access_token"])).json()
    assert read["response_types"] == ["code id_token"]
    assert read["grant_types"] == ["authorization_code", "implicit"]
    response = put(client, body, document_of(read, registration_access_token=None))
    assert response.status_code == 200, response.content
    assert Client.objects.get(client_id=body["client_id"]).response_types == ["code id_token"]


def test_update_leaves_out_metadata_takes_defaults(client, initial_token, signing_keys):
    body = register(
        client,
        {"redirect_uris": [REDIRECT], "subject_type": "public", "id_token_signed_response_alg": "RS256"},
        token=initial_token,
    ).json()
    response = put(client, body, {"client_id": body["client_id"], "redirect_uris": [REDIRECT]})
    assert response.status_code == 200, response.content
    assert response.json()["grant_types"] == ["authorization_code"]
    # The name is the server's provision again (RFC 7591 §2).
    assert response.json()["client_name"].startswith("Unnamed app at dyn.example.com")


def test_update_with_current_secret_is_accepted(client, registered):
    document = document_of(registered, client_name="With secret")
    assert document["client_secret"] == registered["client_secret"]
    response = put(client, registered, document)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client_metadata"),
        ({"client_id": None}, "invalid_client_metadata"),
        ({"client_secret": "not-the-secret"}, "invalid_client_metadata"),
        ({"client_secret": 12}, "invalid_client_metadata"),
        ({"redirect_uris": ["http://dyn.example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://dyn.example.com/cb"}, "invalid_redirect_uri"),
        ({"grant_types": ["password"]}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "none"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata"),
        ({"userinfo_signed_response_alg": "none"}, "invalid_client_metadata"),
        ({"scope": "openid groups"}, "invalid_client_metadata"),
        ({"client_name": "x" * 1000}, "invalid_client_metadata"),
        # RFC 7592 §2.2: what the server issues is not the client's to send.
        ({"registration_client_uri": "https://evil.example.com/"}, "invalid_client_metadata"),
        ({"registration_access_token": "x"}, "invalid_client_metadata"),
        ({"client_id_issued_at": 0}, "invalid_client_metadata"),
        ({"client_secret_expires_at": 0}, "invalid_client_metadata"),
    ],
)
def test_update_refusals_change_nothing(client, registered, changes, error):
    document = {**document_of(registered), **changes}
    document = {key: value for key, value in document.items() if value is not None}
    response = put(client, registered, document)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error
    # Nothing changed, and the token still works (it rotates only on success).
    read = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert read.status_code == 200
    assert read.json()["redirect_uris"] == [REDIRECT]
    assert read.json()["client_name"] == "Dyn app"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json", "application/json"),
        ("[]", "application/json"),
        ("{}", "text/plain"),
        ("{" * 5000, "application/json"),
    ],
)
def test_update_malformed_body_is_refused(client, registered, body, content_type):
    response = client.put(
        path_of(registered),
        body,
        content_type=content_type,
        headers=bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_delete_removes_client_and_its_tokens(client, registered, logged_in):
    app = as_registered(registered)
    result = authorize(logged_in, app)
    tokens = exchange(client, app, result).json()
    assert AccessToken.objects.filter(application=app.model).exists()
    response = client.delete(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert response.status_code == 204
    assert not Client.objects.filter(client_id=registered["client_id"]).exists()
    assert not AccessToken.objects.filter(token=tokens["access_token"]).exists()
    again = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert again.status_code == 401
    userinfo = client.get("/o/userinfo/", headers=bearer(tokens["access_token"]))
    assert userinfo.status_code == 401
    event = AuditEvent.objects.get(action="client.delete", target=registered["client_id"])
    assert event.actor_label == "registration access token"


def test_staff_revoke_shuts_configuration_endpoint(client, staff, registered, root):
    model = Client.objects.get(client_id=registered["client_id"])
    page = staff.get(f"/admin/oidc_provider/client/{model.pk}/change/")
    assert b"Live" in page.content
    assert registered["registration_access_token"].encode() not in page.content
    response = staff.post(
        "/admin/oidc_provider/client/",
        {"action": "revoke_registration_access_token", "_selected_action": [model.pk]},
    )
    assert response.status_code == 302
    refused = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert refused.status_code == 401
    assert AuditEvent.objects.filter(
        action="client.registration_access_token_revoke", target=registered["client_id"], actor=root
    ).exists()
    assert b"Revoked" in staff.get(f"/admin/oidc_provider/client/{model.pk}/change/").content


def test_staff_who_only_view_clients_cannot_revoke_or_reset(client, registered, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_client"))
    browser = sign_in(BrowserClient(), "viewer", PASSWORD)
    model = Client.objects.get(client_id=registered["client_id"])
    secret_before = model.client_secret
    listing = browser.get("/admin/oidc_provider/client/")
    assert listing.status_code == 200
    assert b"revoke_registration_access_token" not in listing.content
    assert b"reset_secret" not in listing.content
    for action in ("revoke_registration_access_token", "reset_secret"):
        browser.post("/admin/oidc_provider/client/", {"action": action, "_selected_action": [model.pk]})
    # The app still manages its registration with its token, and its secret is unchanged.
    still = client.get(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert still.status_code == 200
    model.refresh_from_db()
    assert model.client_secret == secret_before
    assert not AuditEvent.objects.filter(action="client.registration_access_token_revoke").exists()


def test_other_methods_are_not_allowed(client, registered):
    response = client.post(path_of(registered), "{}", content_type="application/json")
    assert response.status_code == 405


def test_introspection_of_deleted_clients_token_is_inactive(client, registered, logged_in, make_client):
    resource_server = make_client(name="Resource server")
    resource_server.model.may_introspect = True
    resource_server.model.save()
    app = as_registered(registered)
    tokens = exchange(client, app, authorize(logged_in, app)).json()
    assert introspection(client, resource_server, tokens["access_token"])["active"] is True
    client.delete(path_of(registered), headers=bearer(registered["registration_access_token"]))
    assert introspection(client, resource_server, tokens["access_token"]) == {"active": False}
