"""Staff register and manage clients, tokens and keys in the admin; secrets are never displayed."""

import re

import pytest
from django.contrib.messages import get_messages

from oidc_provider.models import AccessToken, Client, RefreshToken
from tests.conftest import RegisteredClient, authorize, exchange

REDIRECT = "https://admin-made.example.com/cb"


def add_client_in_admin(staff, **fields):
    data = {
        "name": "Admin-made app",
        "client_type": "confidential",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": REDIRECT,
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "RS256",
        "access_token_format": "jwt",
        "new_client_secret": "",
        "user": "",
        **fields,
    }
    return staff.post("/admin/oidc_provider/client/add/", data, follow=True)


def test_admin_client_secret_shown_once_and_works_for_oidc(staff, signing_keys, logged_in):
    response = add_client_in_admin(staff)
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [
        m.message for m in response.context["messages"]
    ]
    secret = re.search(r": (\S+) \(copy it now", " ".join(shown)).group(1)
    client = Client.objects.get(name="Admin-made app")
    assert client.client_secret.startswith("client_secret_sha256$")
    # The list and the change page never show the secret or its hash.
    for page in (
        staff.get("/admin/oidc_provider/client/"),
        staff.get(f"/admin/oidc_provider/client/{client.pk}/change/"),
    ):
        assert secret not in page.content.decode()
        assert client.client_secret not in page.content.decode()
    # No DOT knowledge needed: the client gets a signed ID token through PKCE.
    registered = RegisteredClient(client.client_id, secret, REDIRECT, client)
    body = exchange(staff, registered, authorize(logged_in, registered)).json()
    assert "id_token" in body and body["token_type"] == "Bearer"


def test_admin_refuses_weak_typed_secret(staff):
    response = add_client_in_admin(staff, new_client_secret="password123")
    assert response.status_code == 200
    assert "too weak" in response.content.decode()
    assert not Client.objects.filter(name="Admin-made app").exists()


def test_admin_accepts_strong_typed_secret(staff):
    secret = "Vq3x9LmZt7Rk2Wp8Nc4Hy6Bd1Fs5Jg0Qe"
    add_client_in_admin(staff, new_client_secret=secret)
    from django.contrib.auth.hashers import check_password

    assert check_password(secret, Client.objects.get(name="Admin-made app").client_secret)


def test_admin_revoke_action_revokes_tokens(staff, logged_in, rp):
    exchange(staff, rp, authorize(logged_in, rp))
    token = AccessToken.objects.get(application=rp.model)
    response = staff.post(
        "/admin/oidc_provider/accesstoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert not AccessToken.objects.filter(pk=token.pk).exists()
    assert RefreshToken.objects.get(application=rp.model).revoked is not None


@pytest.mark.parametrize(
    "path",
    [
        "/admin/oidc_provider/accesstoken/",
        "/admin/oidc_provider/refreshtoken/",
        "/admin/oidc_provider/idtoken/",
        "/admin/oidc_provider/grant/",
        "/admin/oidc_provider/signingkey/",
        "/admin/accounts/user/",
    ],
)
def test_admin_lists_open_and_search(staff, logged_in, rp, path):
    exchange(staff, rp, authorize(logged_in, rp))
    assert staff.get(path).status_code == 200
    assert staff.get(path, {"q": "alice"}).status_code == 200


def test_admin_user_page_edits_claim_fields(staff, user):
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    for field in ("email_verified", "phone_number", "birthdate", "zoneinfo", "address_locality"):
        assert f'name="{field}"' in page
    assert user.subject in page  # shown read-only


def test_admin_signing_key_page_hides_private_key(staff, signing_keys):
    from oidc_provider.models import SigningKey

    key = SigningKey.objects.first()
    page = staff.get(f"/admin/oidc_provider/signingkey/{key.pk}/change/").content.decode()
    assert key.kid in page
    assert key.private_jwk_encrypted not in page


def test_admin_client_access_token_format_opaque(staff):
    add_client_in_admin(staff, access_token_format="opaque")
    assert Client.objects.get(name="Admin-made app").access_token_format == "opaque"
