"""The client commands staff script: list, show, update, reset the secret of, and delete clients."""

import json
from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from oidc_provider.models import AccessToken, Client
from oidc_provider.redirect_uris import redirect_uri_problem
from tests.conftest import ISSUER, authorize, exchange


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_listclients_json_describes_every_client_without_secrets(make_client):
    shop = make_client(name="Shop")
    make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    listed = json.loads(run("listclients", "--json"))
    assert [entry["name"] for entry in listed] == ["Job", "Shop"]
    assert {entry["kind"] for entry in listed} == {"machine", "web"}
    text = json.dumps(listed)
    assert shop.client_secret not in text and Client.objects.get(name="Shop").client_secret not in text


def test_listclients_plain_lists_one_client_a_line(make_client):
    shop = make_client(name="Shop")
    assert run("listclients").splitlines() == [f"{shop.client_id}  web      Shop"]


def test_showclient_json_has_what_the_developer_needs(make_client):
    shop = make_client(name="Shop", post_logout_redirect_uris=["https://shop.example.com/bye"])
    shown = json.loads(run("showclient", shop.client_id, "--json"))
    assert shown["client_id"] == shop.client_id
    assert shown["issuer"] == ISSUER
    assert shown["discovery_url"] == f"{ISSUER}/.well-known/openid-configuration"
    assert shown["redirect_uris"] == ["https://rp.example.com/callback"]
    assert shown["post_logout_redirect_uris"] == ["https://shop.example.com/bye"]
    assert shown["grant_types"] == ["authorization_code", "refresh_token"]
    assert "client_secret" not in shown


def test_updateclient_replaces_redirect_uris_and_grant_types_and_is_audited(make_client):
    shop = make_client(name="Shop")
    out = json.loads(
        run(
            "updateclient",
            shop.client_id,
            "--redirect-uri",
            "https://shop.example.com/a",
            "--redirect-uri",
            "https://shop.example.com/b",
            "--grant-type",
            "authorization_code",
            "--json",
        )
    )
    assert out["redirect_uris"] == ["https://shop.example.com/a", "https://shop.example.com/b"]
    assert out["grant_types"] == ["authorization_code"]
    assert sorted(out["changed"]) == ["grant_types", "redirect_uris"]
    client = Client.objects.get(pk=shop.model.pk)
    assert client.redirect_uris.split() == ["https://shop.example.com/a", "https://shop.example.com/b"]
    event = AuditEvent.objects.get(action="client.change", target=shop.client_id)
    assert event.actor_label == "updateclient command"


def test_updateclient_can_clear_post_logout_uris(make_client):
    shop = make_client(name="Shop", post_logout_redirect_uris=["https://shop.example.com/bye"])
    run("updateclient", shop.client_id, "--clear-post-logout-redirect-uris")
    assert Client.objects.get(pk=shop.model.pk).post_logout_redirect_uris == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--redirect-uri", "javascript:alert(1)"],
        ["--redirect-uri", "http://shop.example.com/cb"],
        ["--redirect-uri", "https://shop.example.com/cb#x"],
        ["--clear-redirect-uris"],
        ["--grant-type", "client_credentials", "--grant-type", "authorization_code", "--name", "Other"],
    ],
)
def test_updateclient_bad_input_fails_and_changes_nothing(make_client, args):
    make_client(name="Other")
    spa = make_client(name="SPA", public=True)
    before = Client.objects.get(pk=spa.model.pk)
    with pytest.raises(CommandError) as raised:
        run("updateclient", spa.client_id, *args)
    after = Client.objects.get(pk=spa.model.pk)
    assert (after.name, after.redirect_uris, after.grant_types) == (
        before.name,
        before.redirect_uris,
        before.grant_types,
    )
    if args[0] == "--redirect-uri":
        # The same rule, in the same words, as the admin and registration (Client.clean()).
        assert redirect_uri_problem(args[1]) in str(raised.value)


def test_resetclientsecret_prints_a_new_secret_once_and_the_old_one_stops_working(
    make_client, client, signing_keys
):
    job = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    shown = json.loads(run("resetclientsecret", job.client_id, "--json"))
    assert shown["client_id"] == job.client_id
    stored = Client.objects.get(pk=job.model.pk).client_secret
    assert check_password(shown["client_secret"], stored) and not check_password(job.client_secret, stored)
    old = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": job.client_id, "client_secret": job.client_secret},
    )
    assert old.status_code == 401
    assert AuditEvent.objects.filter(action="client.secret_reset", target=job.client_id).exists()


def test_resetclientsecret_refuses_a_public_client(make_client):
    spa = make_client(name="SPA", public=True)
    with pytest.raises(CommandError, match="cannot keep a secret"):
        run("resetclientsecret", spa.client_id)


def test_deleteclient_removes_the_client_and_its_tokens(make_client, logged_in, client, signing_keys):
    shop = make_client(name="Shop")
    exchange(client, shop, authorize(logged_in, shop))
    out = json.loads(run("deleteclient", shop.client_id, "--no-input", "--json"))
    assert out == {"client_id": shop.client_id, "deleted": True}
    assert not Client.objects.filter(client_id=shop.client_id).exists()
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.get(action="client.delete", target=shop.client_id).actor_label == (
        "deleteclient command"
    )


@pytest.mark.parametrize("command", ["showclient", "updateclient", "resetclientsecret", "deleteclient"])
def test_client_commands_fail_for_an_unknown_client(db, command):
    with pytest.raises(CommandError, match="No client has the id"):
        run(command, "no-such-client", *(["--no-input"] if command == "deleteclient" else []))


def test_createclient_sets_pkce_mfa_and_groups_and_is_audited(db):
    out = json.loads(
        run(
            "createclient",
            "Legacy",
            "--redirect-uri",
            "https://legacy.example.com/cb",
            "--no-require-pkce",
            "--require-mfa",
            "--release-groups",
            "--json",
        )
    )
    client = Client.objects.get(client_id=out["client_id"])
    assert (client.require_pkce, client.require_mfa, client.release_groups) == (False, True, True)
    event = AuditEvent.objects.get(action="client.create", target=client.client_id)
    assert event.actor_label == "createclient command" and out["client_secret"] not in str(event.detail)


def test_createclient_public_client_always_uses_pkce(db):
    out = json.loads(
        run(
            "createclient",
            "SPA",
            "--redirect-uri",
            "https://spa.example.com/cb",
            "--public",
            "--no-require-pkce",
            "--json",
        )
    )
    assert Client.objects.get(client_id=out["client_id"]).require_pkce is True


def test_createclient_refuses_a_name_another_client_has(make_client):
    make_client(name="Shop")
    with pytest.raises(CommandError, match="Another app is already called"):
        run("createclient", "shop", "--redirect-uri", "https://shop.example.com/cb")
