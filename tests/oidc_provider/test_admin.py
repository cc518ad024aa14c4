"""Staff register and manage clients, tokens and keys in the admin; secrets are never displayed."""

import html
import re

import pytest
from django.contrib.auth.hashers import check_password

from audit.models import AuditEvent
from oidc_provider.models import AccessToken, Client, RefreshToken
from oidc_provider.redirect_uris import redirect_uri_problem
from tests.admin_forms import REDIRECT, add_client_in_admin, change_client_in_admin, handover
from tests.conftest import ISSUER, RegisteredClient, authorize, basic_auth, exchange

ADD = "/admin/oidc_provider/client/add/"


def test_admin_client_add_asks_what_kind_of_app_first(staff):
    page = staff.get(ADD)
    assert page.status_code == 200
    text = page.content.decode()
    for label, kind in (
        ("Web server app", "web"),
        ("Single-page or native app", "native"),
        ("Machine-to-machine", "machine"),
    ):
        assert label in text and f'href="?kind={kind}"' in text
    form = staff.get(ADD, {"kind": "web"}).content.decode()
    assert "Kind of app: <strong>Web server app</strong>" in form
    assert "https only; http only for localhost" in form  # a line of help per field


def test_admin_web_app_panel_hands_over_settings_and_secret_once(staff, root, signing_keys, logged_in):
    response = add_client_in_admin(staff)
    assert response.status_code == 200
    shown = handover(response)
    client = Client.objects.get(name="Admin-made app")
    assert shown["Issuer"] == ISSUER
    assert shown["Discovery URL"] == f"{ISSUER}/.well-known/openid-configuration"
    assert shown["Client ID"] == client.client_id
    assert shown["Redirect URI"] == REDIRECT
    secret = shown["Client secret"]
    assert check_password(secret, client.client_secret)
    assert client.client_type == "confidential" and client.require_pkce
    assert client.grant_types == ["authorization_code", "refresh_token"]
    # The list, the change page and the developer settings page never show it again.
    for path in ("", f"{client.pk}/change/", f"{client.pk}/handover/"):
        page = staff.get(f"/admin/oidc_provider/client/{path}")
        assert page.status_code == 200
        assert secret not in page.content.decode() and client.client_secret not in page.content.decode()
    assert (
        handover(staff.get(f"/admin/oidc_provider/client/{client.pk}/handover/"))["Client ID"]
        == client.client_id
    )
    event = AuditEvent.objects.get(action="client.create", target=client.client_id)
    assert event.actor == root and secret not in str(event.detail)
    # No DOT knowledge needed: the client gets a signed ID token through PKCE.
    registered = RegisteredClient(client.client_id, secret, REDIRECT, client)
    body = exchange(staff, registered, authorize(logged_in, registered)).json()
    assert "id_token" in body and body["token_type"] == "Bearer"


def test_admin_native_app_is_public_with_pkce_and_no_secret(staff, signing_keys, logged_in):
    response = add_client_in_admin(staff, kind="native")
    client = Client.objects.get(name="Admin-made app")
    assert client.client_type == "public" and client.require_pkce and client.client_secret == ""
    assert "Client secret" not in handover(response)
    assert "cannot keep a secret" in response.content.decode()
    registered = RegisteredClient(client.client_id, None, REDIRECT, client)
    assert "id_token" in exchange(staff, registered, authorize(logged_in, registered)).json()


def test_admin_offers_device_sign_in_only_to_apps_on_devices(staff):
    device = "urn:ietf:params:oauth:grant-type:device_code"
    assert f'value="{device}"' in staff.get(ADD, {"kind": "native"}).content.decode()
    assert f'value="{device}"' not in staff.get(ADD, {"kind": "web"}).content.decode()
    add_client_in_admin(staff, kind="native", grant_types=["authorization_code", device])
    assert Client.objects.get(name="Admin-made app").grant_types == ["authorization_code", device]


def test_admin_machine_app_gets_client_credentials_only(staff, client, signing_keys):
    response = add_client_in_admin(staff, kind="machine")
    shown = handover(response)
    machine = Client.objects.get(name="Admin-made app")
    assert machine.grant_types == ["client_credentials"] and machine.redirect_uris == ""
    token = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(shown["Client ID"], shown["Client secret"]),
    )
    assert token.status_code == 200 and token.json()["access_token"]


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "http://app.example.com/cb",
        "https://app.example.com/cb#fragment",
        "/relative/cb",
        "data:text/html,hi",
        "https://app.example.com:99999/cb",
    ],
)
def test_admin_client_refuses_the_uris_every_client_path_refuses(staff, uri):
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        response = add_client_in_admin(staff, **{field: uri})
        assert response.status_code == 200
        # The same words as createclient and registration: Client.clean() says them all.
        assert redirect_uri_problem(uri).replace("'", "&#x27;") in response.content.decode()
    assert not Client.objects.exists()


def test_admin_client_accepts_loopback_http_redirects(staff):
    add_client_in_admin(staff, redirect_uris="http://127.0.0.1:8080/callback\nhttp://localhost:3000/cb")
    assert Client.objects.get(name="Admin-made app").redirect_uris.split() == [
        "http://127.0.0.1:8080/callback",
        "http://localhost:3000/cb",
    ]


def test_admin_client_name_is_required_and_unique(staff):
    assert "Give the app a name" in add_client_in_admin(staff, name="  ").content.decode()
    add_client_in_admin(staff, name="Payroll")
    again = add_client_in_admin(staff, name="payroll")
    assert "Another app is already called" in again.content.decode()
    assert Client.objects.filter(name__iexact="payroll").count() == 1


def test_admin_code_flow_app_needs_a_redirect_uri(staff):
    response = add_client_in_admin(staff, redirect_uris="")
    assert "needs at least one redirect URI" in response.content.decode()
    assert not Client.objects.exists()


def test_admin_refuses_weak_typed_secret(staff):
    response = add_client_in_admin(staff, new_client_secret="password123")
    assert response.status_code == 200
    assert "too weak" in response.content.decode()
    assert not Client.objects.filter(name="Admin-made app").exists()


def test_admin_accepts_strong_typed_secret_without_echoing_it(staff):
    secret = "Vq3x9LmZt7Rk2Wp8Nc4Hy6Bd1Fs5Jg0Qe"
    response = add_client_in_admin(staff, new_client_secret=secret)
    assert secret not in response.content.decode()
    assert check_password(secret, Client.objects.get(name="Admin-made app").client_secret)


def test_admin_reset_secret_shows_the_new_one_once_and_the_old_one_stops_working(
    staff, client, make_client, root, signing_keys
):
    machine = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    url = f"/admin/oidc_provider/client/{machine.model.pk}/reset-secret/"
    assert "stops working" in staff.get(url).content.decode()  # asks first
    answer = staff.post(url, follow=True)
    # The POST redirects; the secret is on the page the browser then GETs.
    assert answer.redirect_chain == [("/admin/oidc_provider/client/new-settings/", 302)]
    new_secret = handover(answer)["Client secret"]

    def token_status(secret):
        auth = basic_auth(machine.client_id, secret)
        return client.post(
            "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth
        ).status_code

    assert token_status(machine.client_secret) == 401
    assert token_status(new_secret) == 200
    event = AuditEvent.objects.get(action="client.secret_reset", target=machine.client_id)
    assert event.actor == root and new_secret not in str(event.detail)


def test_admin_reset_secret_action_shows_each_new_secret(staff, make_client):
    first, second = make_client(name="First"), make_client(name="Second")
    response = staff.post(
        "/admin/oidc_provider/client/",
        {"action": "reset_secret", "_selected_action": [first.model.pk, second.model.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert response.redirect_chain == [("/admin/oidc_provider/client/new-settings/", 302)]
    assert response.status_code == 200 and page.count("Copy the client secret now") == 2
    shown = re.findall(r'<code id="client-secret-\d">([^<]+)</code>', page)
    assert len(shown) == 2
    for registered in (first, second):
        stored = Client.objects.get(pk=registered.model.pk).client_secret
        assert not check_password(registered.client_secret, stored)
        assert sum(check_password(html.unescape(secret), stored) for secret in shown) == 1


def test_admin_client_change_and_delete_are_audited(staff, make_client, root):
    registered = make_client(name="Intranet")
    response = change_client_in_admin(
        staff, registered.model, redirect_uris="https://intranet.example.com/cb", skip_authorization="on"
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="client.change", target=registered.client_id)
    assert event.actor == root
    assert set(event.detail["changed"]) == {"redirect_uris", "skip_authorization"}
    staff.post(f"/admin/oidc_provider/client/{registered.model.pk}/delete/", {"post": "yes"})
    assert not Client.objects.filter(pk=registered.model.pk).exists()
    assert AuditEvent.objects.filter(action="client.delete", target=registered.client_id, actor=root).exists()


def test_admin_client_change_refuses_grant_types_its_kind_cannot_use(staff, make_client):
    registered = make_client(name="Portal", grant_types=["authorization_code", "client_credentials"])
    response = change_client_in_admin(staff, registered.model, kind="native")
    assert response.status_code == 200
    assert (
        "A single-page or native app can: sign people in (authorization code flow); keep people "
        "signed in (refresh tokens); sign in on a tv, console or command line (device code)."
    ) in html.unescape(response.content.decode())
    assert Client.objects.get(pk=registered.model.pk).client_type == Client.CLIENT_CONFIDENTIAL


def test_admin_client_page_links_only_to_pages_that_answer(staff, rp):
    page = staff.get(f"/admin/oidc_provider/client/{rp.model.pk}/change/").content.decode()
    # DOT's "View on site" named a URL Porchlight does not serve (NoReverseMatch, a 500).
    assert "View on site" not in page
    assert f"/admin/oidc_provider/client/{rp.model.pk}/handover/" in page
    assert f"/admin/oidc_provider/client/{rp.model.pk}/reset-secret/" in page


def test_admin_revoke_action_revokes_tokens(staff, logged_in, rp, root):
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
    assert AuditEvent.objects.filter(action="token.revoke", target="alice", actor=root).exists()


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
    for field in ("phone_number", "birthdate", "zoneinfo", "address_locality"):
        assert f'name="{field}"' in page
    # Only the e-mail section's audited buttons change it (tests/accounts/test_email_verification.py).
    assert 'name="email_verified"' not in page
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


def test_admin_client_access_token_algorithm(staff):
    add_client_in_admin(staff, kind="machine", access_token_algorithm="ES256")
    made = Client.objects.get(name="Admin-made app")
    assert made.access_token_algorithm == "ES256"
    page = staff.get(f"/admin/oidc_provider/client/{made.pk}/change/").content.decode()
    assert "Access token signature" in page


def test_admin_client_access_token_algorithm_refuses_hs256(staff):
    # A shared secret cannot sign tokens that several resource servers verify.
    response = add_client_in_admin(staff, kind="machine", access_token_algorithm="HS256")
    assert "Select a valid choice" in response.content.decode()
    assert not Client.objects.filter(name="Admin-made app").exists()
