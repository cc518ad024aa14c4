"""Clients for the device authorization grant, made every way staff and apps make clients (RFC 8628)."""

import json

from django.core.management import call_command

from oidc_provider.models import Client, GrantType

DEVICE = GrantType.DEVICE_CODE


def device_authorization(http, client_id: str, secret: str | None = None):
    data = {"client_id": client_id, "scope": "openid offline_access"}
    if secret:
        data["client_secret"] = secret
    return http.post("/o/device/", data)


def test_device_client_registered_dynamically_gets_a_device_code(client, signing_keys, initial_token):
    metadata = {
        "client_name": "Living-room TV",
        "grant_types": [DEVICE, "refresh_token"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    }
    response = client.post(
        "/o/register/",
        json.dumps(metadata),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {initial_token}",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grant_types"] == [DEVICE, "refresh_token"] and "client_secret" not in body
    started = device_authorization(client, body["client_id"])
    assert started.status_code == 200, started.content
    assert {"device_code", "user_code", "verification_uri", "verification_uri_complete"} <= set(
        started.json()
    )


def test_device_client_made_by_createclient_gets_a_device_code(client, signing_keys, capsys):
    call_command(
        "createclient",
        "CLI tool",
        "--public",
        "--grant-type",
        DEVICE,
        "--grant-type",
        "refresh_token",
        "--json",
    )
    created = json.loads(capsys.readouterr().out)
    assert created["client_secret"] is None
    assert Client.objects.get(client_id=created["client_id"]).grant_types == [DEVICE, "refresh_token"]
    assert device_authorization(client, created["client_id"]).status_code == 200


def test_confidential_device_client_must_authenticate(client, make_client, signing_keys):
    registered = make_client(name="Kiosk", redirect_uris=[], grant_types=[DEVICE])
    assert device_authorization(client, registered.client_id).status_code == 401
    assert device_authorization(client, registered.client_id, registered.client_secret).status_code == 200
