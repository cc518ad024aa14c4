"""App names and the consent page: an app that registers itself cannot pass for one staff registered.

RFC 7591 gives ``client_name`` no uniqueness, so apps that register themselves may share a name;
a name people could not tell from a staff app's (UTS #39 skeletons, names.py) is refused.
"""

import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from oidc_provider.models import Client, GrantType
from oidc_provider.services import client_create
from tests import oauth
from tests.admin_forms import add_client_in_admin, change_client_in_admin
from tests.conftest import authorize, pkce_pair

STAFF_APP = "Porchlight demo app"
STAFF_REDIRECT = "https://demo.example.com/callback"
REDIRECT = "https://dyn.example.com/cb"
UNREVIEWED = "This app registered itself; your organisation's staff have not reviewed it."
DEVICE_GRANT = GrantType.DEVICE_CODE.value

# How an app could pass for "Porchlight demo app" on the consent page, which shows its name.
IMPERSONATIONS = {
    "cyrillic-e": "Porchlight d\u0435mo app",
    "zero-width-space": "Porchlight demo app\u200b",
    "no-break-space": "Porchlight\u00a0demo app",
    "zero-width-joiner": "Porch\u200dlight demo app",
    "byte-order-mark": "\ufeffPorchlight demo app",
    "variation-selector": "Porchlight demo app\ufe0f",
    "fullwidth-p": "\uff30orchlight demo app",
    "capital-i-for-l": "PorchIight demo app",
    "same": STAFF_APP,
    "other-case": "porchlight DEMO App",
    "upper-case": "PORCHLIGHT DEMO APP",
    "more-spaces": "  Porchlight   demo  app ",
    "tab": "Porchlight\tdemo app",
}


def register(http, token: str, name: str, **metadata):
    return oauth.register(http, {"redirect_uris": [REDIRECT], "client_name": name, **metadata}, token=token)


def consent_page(browser, client_id: str, redirect_uri: str):
    """Ask for authorization and return the page the user is shown."""
    _verifier, challenge = pkce_pair()
    return browser.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )


def redirect_host_shown(response) -> str:
    found = re.search(r'<strong id="redirect-host">([^<]*)</strong>', response.content.decode())
    assert found, "the consent page names the host the answer is sent to"
    return found.group(1)


@pytest.fixture
def staff_app(make_client):
    return make_client(name=STAFF_APP, redirect_uris=[STAFF_REDIRECT])


# --- apps that register themselves may share a name (RFC 7591 §2) ----------------------------


def test_registration_same_name_twice_gives_two_clients(client, signing_keys, initial_token):
    first = register(client, initial_token, "Team chat")
    second = register(client, initial_token, "Team chat")
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    assert first.json()["client_id"] != second.json()["client_id"]
    assert second.json()["client_name"] == "Team chat"


def test_registration_name_may_look_like_another_self_registered_apps(client, signing_keys, initial_token):
    assert register(client, initial_token, "Team chat").status_code == 201
    assert register(client, initial_token, "TEAM CH\u0410T\u200b").status_code == 201


# --- but none may pass for an app staff registered (RFC 7591 §3.2.2) ---------------------------


@pytest.mark.parametrize("name", IMPERSONATIONS.values(), ids=IMPERSONATIONS.keys())
def test_registration_refuses_name_passing_for_staff_app(
    client, signing_keys, initial_token, staff_app, name
):
    response = register(client, initial_token, name)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert "looks like the name of an app your organisation's staff registered" in body["error_description"]
    assert Client.objects.count() == 1


def test_registration_refuses_name_passing_for_fixture_app(client, signing_keys, initial_token):
    call_command("loaddata", str(settings.BASE_DIR / "fixtures" / "demo.json"), verbosity=0)
    response = register(client, initial_token, IMPERSONATIONS["cyrillic-e"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_registration_refuses_name_passing_for_admin_made_app(client, signing_keys, initial_token, staff):
    add_client_in_admin(staff, name="Payroll")
    response = register(client, initial_token, "Payr\u043ell")  # Cyrillic о
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_registration_refuses_name_reordered_by_direction_controls(
    client, signing_keys, initial_token, staff_app
):
    # U+202E shows "ppa omed thgilhcroP" right to left, as "Porchlight demo app".
    response = register(client, initial_token, "\u202eppa omed thgilhcroP")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert "direction controls" in response.json()["error_description"]


def test_registration_refuses_name_of_invisible_characters(client, signing_keys, initial_token):
    response = register(client, initial_token, "\u200b\u2060\ufeff")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert "Give the app a name" in response.json()["error_description"]


# --- staff apps stay unique among all apps, compared the same way ------------------------------


def test_client_create_refuses_name_looking_like_another_app(staff_app):
    with pytest.raises(ValidationError, match="Another app is already called “Porchlight demo app”"):
        client_create(name=IMPERSONATIONS["cyrillic-e"], redirect_uris=["https://other.example.com/cb"])
    assert Client.objects.count() == 1


def test_client_create_refuses_name_of_self_registered_app(client, signing_keys, initial_token):
    assert register(client, initial_token, "Team chat").status_code == 201
    with pytest.raises(ValidationError, match="Another app is already called “Team chat”"):
        client_create(name="Team\u00a0chat", redirect_uris=["https://chat.example.com/cb"])


def test_admin_refuses_look_alike_name(staff):
    add_client_in_admin(staff, name="Payroll")
    again = add_client_in_admin(staff, name="Payr\u043ell")
    assert "Another app is already called “Payroll”" in again.content.decode()
    assert Client.objects.count() == 1


def test_admin_refuses_renaming_to_look_alike_name(staff, make_client, staff_app):
    other = make_client(name="Wiki", redirect_uris=["https://wiki.example.com/cb"]).model
    response = change_client_in_admin(staff, other, name=IMPERSONATIONS["zero-width-space"])
    assert "Another app is already called “Porchlight demo app”" in response.content.decode()
    other.refresh_from_db()
    assert other.name == "Wiki"


def test_admin_client_list_says_which_apps_registered_themselves(staff, client, signing_keys, initial_token):
    assert register(client, initial_token, "Team chat").status_code == 201
    page = staff.get("/admin/oidc_provider/client/").content.decode()
    assert "Added by" in page
    row = next(row for row in page.split("<tr") if "Team chat" in row)
    assert "the app itself" in row


# --- the consent page shows where the answer goes, and who vouched for the app ----------------


def test_consent_page_of_self_registered_app_shows_host_and_unreviewed_note(
    client, signing_keys, initial_token, logged_in
):
    body = register(client, initial_token, "Team chat").json()
    page = consent_page(logged_in, body["client_id"], REDIRECT)
    assert page.status_code == 200
    assert redirect_host_shown(page) == "dyn.example.com"
    assert UNREVIEWED in page.content.decode()


def test_consent_page_of_staff_app_shows_host_without_note(staff_app, signing_keys, logged_in):
    page = consent_page(logged_in, staff_app.client_id, STAFF_REDIRECT)
    assert page.status_code == 200
    assert redirect_host_shown(page) == "demo.example.com"
    assert "registered itself" not in page.content.decode()
    # The page still works as before: allowing returns a code.
    assert authorize(logged_in, staff_app).code


def test_device_page_of_self_registered_app_shows_unreviewed_note(
    client, signing_keys, initial_token, logged_in
):
    body = register(
        client,
        initial_token,
        "Living-room TV",
        redirect_uris=[],
        grant_types=[DEVICE_GRANT],
        token_endpoint_auth_method="none",
    ).json()
    codes = client.post("/o/device/", {"client_id": body["client_id"], "scope": "openid"}).json()
    entered = logged_in.post("/device/", {"user_code": codes["user_code"]})
    assert entered.status_code == 302
    page = logged_in.get(entered["Location"])
    assert page.status_code == 200
    assert UNREVIEWED in page.content.decode()
