"""The API commands: register, list, show, change and delete APIs; allow clients scopes; give roles."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from oidc_provider.models import Api, ApiScope, Role
from tests.conftest import basic_auth
from tests.tokens import claims_of

API = "https://orders.example.com/"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def orders(db) -> dict:
    return json.loads(
        run(
            "createapi",
            API,
            "--name",
            "Orders",
            "--scope",
            "read:orders=See your orders",
            "--scope",
            "write:orders=Place orders for you",
            "--claim",
            "email",
            "--claim",
            "groups",
            "--lifetime",
            "300",
            "--json",
        )
    )


def test_createapi_json_describes_the_new_api(orders):
    assert orders == {
        "identifier": API,
        "name": "Orders",
        "format": "jwt",
        "lifetime": 300,
        "algorithm": "RS256",
        "token_claims": ["email", "groups"],
        "keycloak_roles": False,
        "scopes": {"read:orders": "See your orders", "write:orders": "Place orders for you"},
        "roles": {},
        "clients": [],
    }
    assert AuditEvent.objects.filter(action="api.create").count() == 1


@pytest.mark.parametrize(
    "args",
    [
        ["not-a-uri", "--name", "Orders"],
        [API, "--name", ""],
        [API, "--name", "Orders", "--scope", "read:orders"],
        [API, "--name", "Orders", "--scope", "openid=Sign in"],
        [API, "--name", "Orders", "--scope", "read:orders=Fine", "--scope", "bad scope=Spaces"],
        [API, "--name", "Orders", "--lifetime", "0"],
    ],
)
def test_createapi_refuses_bad_input_and_writes_nothing(db, args):
    with pytest.raises(CommandError):
        run("createapi", *args)
    assert not Api.objects.exists() and not ApiScope.objects.exists()
    assert not AuditEvent.objects.filter(action="api.create").exists()


def test_createapi_refuses_an_identifier_taken(orders):
    with pytest.raises(CommandError, match="already registered"):
        run("createapi", API, "--name", "Again")


def test_listapis_and_showapi(orders):
    assert run("listapis").splitlines() == [f"{API}  Orders  read:orders write:orders"]
    assert json.loads(run("listapis", "--json")) == [orders]
    assert json.loads(run("showapi", API, "--json")) == orders
    text = run("showapi", API)
    assert "read:orders" in text and "See your orders" in text
    with pytest.raises(CommandError):
        run("showapi", "https://nowhere.example.com/")


def test_updateapi_changes_only_what_is_given(orders):
    changed = json.loads(
        run(
            "updateapi",
            API,
            "--scope",
            "read:orders=See your past orders",
            "--remove-scope",
            "write:orders",
            "--remove-claim",
            "groups",
            "--claim",
            "preferred_username",
            "--role",
            "clerk=Handles orders",
            "--keycloak-roles",
            "--format",
            "opaque",
            "--json",
        )
    )
    assert changed["name"] == "Orders" and changed["lifetime"] == 300
    assert changed["scopes"] == {"read:orders": "See your past orders"}
    assert changed["token_claims"] == ["email", "preferred_username"]
    assert changed["roles"] == {"clerk": "Handles orders"}
    assert changed["keycloak_roles"] is True and changed["format"] == "opaque"


def test_updateapi_bad_input_changes_nothing(orders):
    with pytest.raises(CommandError):
        run("updateapi", API, "--name", "Renamed", "--remove-scope", "nothing:here")
    assert json.loads(run("showapi", API, "--json")) == orders


def test_updateclient_allows_and_disallows_scopes(orders, make_client):
    shop = make_client(name="Shop")
    shown = json.loads(run("updateclient", shop.client_id, "--allow-scope", "read:orders", "--json"))
    assert shown["allowed_scopes"] == ["read:orders"]
    assert json.loads(run("showclient", shop.client_id, "--json"))["allowed_scopes"] == ["read:orders"]
    assert json.loads(run("showapi", API, "--json"))["clients"] == [shop.client_id]
    run("updateclient", shop.client_id, "--disallow-scope", "read:orders")
    assert json.loads(run("showclient", shop.client_id, "--json"))["allowed_scopes"] == []


def test_updateclient_unknown_scope_changes_nothing(orders, make_client):
    shop = make_client(name="Shop")
    with pytest.raises(CommandError, match="no:such"):
        run("updateclient", shop.client_id, "--name", "Renamed", "--allow-scope", "no:such")
    shown = json.loads(run("showclient", shop.client_id, "--json"))
    assert shown["name"] == "Shop" and shown["allowed_scopes"] == []


def test_deleteapi_removes_the_api_its_scopes_and_allowances(orders, make_client, signing_keys, client):
    machine = make_client(name="Sync", redirect_uris=[], grant_types=["client_credentials"])
    run("updateclient", machine.client_id, "--allow-scope", "read:orders")
    auth = basic_auth(machine.client_id, machine.client_secret)
    token = client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "read:orders"}, HTTP_AUTHORIZATION=auth
    )
    assert claims_of(token.json()["access_token"])["aud"] == API
    assert json.loads(run("deleteapi", API, "--yes", "--json")) == {"identifier": API, "deleted": True}
    assert not ApiScope.objects.exists()
    assert json.loads(run("showclient", machine.client_id, "--json"))["allowed_scopes"] == []
    again = client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "read:orders"}, HTTP_AUTHORIZATION=auth
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_scope"
    assert AuditEvent.objects.filter(action="api.delete").count() == 1


def test_deleteapi_asks_first(orders, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Nothing deleted"):
        run("deleteapi", API)
    assert Api.objects.filter(identifier=API).exists()


def test_assignrole_gives_and_takes_a_role(orders, user):
    Group.objects.create(name="buyers")
    given = json.loads(
        run("assignrole", "clerk", "--api", API, "--create", "--user", "alice", "--group", "buyers", "--json")
    )
    assert given == {
        "name": "clerk",
        "description": "",
        "api": API,
        "client": None,
        "users": ["alice"],
        "groups": ["buyers"],
    }
    taken = json.loads(run("assignrole", "clerk", "--api", API, "--remove", "--user", "alice", "--json"))
    assert taken["users"] == [] and taken["groups"] == ["buyers"]
    run("assignrole", "staff", "--create", "--user", "alice")
    assert Role.objects.get(name="staff").api is None


def test_assignrole_refuses_unknown_names_and_writes_nothing(orders, user):
    with pytest.raises(CommandError, match="No role"):
        run("assignrole", "clerk", "--api", API, "--user", "alice")
    with pytest.raises(CommandError, match="nobody"):
        run("assignrole", "clerk", "--api", API, "--create", "--user", "nobody")
    with pytest.raises(CommandError, match="No API"):
        run("assignrole", "clerk", "--api", "https://nowhere.example.com/", "--create")
    assert not Role.objects.exists()


def test_createclient_allow_scope(orders):
    created = json.loads(
        run(
            "createclient",
            "Sync",
            "--grant-type",
            "client_credentials",
            "--allow-scope",
            "read:orders",
            "--json",
        )
    )
    shown = json.loads(run("showclient", created["client_id"], "--json"))
    assert shown["allowed_scopes"] == ["read:orders"]


def test_createclient_unknown_scope_creates_nothing(orders):
    with pytest.raises(CommandError, match="no:such"):
        run("createclient", "Sync", "--grant-type", "client_credentials", "--allow-scope", "no:such")
    assert json.loads(run("listclients", "--json")) == []
