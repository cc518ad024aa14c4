"""Provisioning clients' tokens: made by `scimtoken` or in the admin, shown once, revoked, audited."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from scim.models import ProvisioningClient
from tests.scim.conftest import Scim, body_of, error_of


def scimtoken(name: str) -> str:
    out = StringIO()
    call_command("scimtoken", name, stdout=out)
    match = re.search(r"Token:\s+(\S+)", out.getvalue())
    assert match is not None, out.getvalue()
    return match.group(1)


def test_scimtoken_prints_a_token_that_works_once_stored_as_a_hash(db):
    token = scimtoken("Microsoft Entra")
    client = ProvisioningClient.objects.get(name="Microsoft Entra")
    assert token.split(".")[1] not in (client.token_hash, client.key_id) and client.last_used is None
    assert body_of(Scim(token).get("/Users"))["totalResults"] == 0
    client.refresh_from_db()
    assert client.last_used is not None
    event = AuditEvent.objects.get(action="scim_client.create")
    assert event.target == "Microsoft Entra" and event.actor_label == "scimtoken command"
    assert token not in str(event.detail)


def test_scimtoken_refuses_a_live_name_and_an_empty_one(db):
    scimtoken("Okta")
    with pytest.raises(CommandError, match="revoke it"):
        scimtoken("Okta")
    with pytest.raises(CommandError):
        scimtoken(" ")


def test_admin_makes_a_token_shown_once_and_revokes_it(staff, root):
    response = staff.post("/admin/scim/provisioningclient/add/", {"name": "HR system"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    value = re.search(r'<code id="scim-token">([^<]+)</code>', page).group(1)
    assert "http://127.0.0.1:8000/scim/v2/" in page
    client = ProvisioningClient.objects.get(name="HR system")
    assert client.created_by == root
    assert body_of(Scim(value).get("/Users"))["totalResults"] >= 1
    for listing in (
        staff.get("/admin/scim/provisioningclient/"),
        staff.get(f"/admin/scim/provisioningclient/{client.pk}/change/"),
    ):
        assert listing.status_code == 200
        assert value not in listing.content.decode()
        assert client.token_hash not in listing.content.decode()
    assert "HR system" in staff.get("/admin/scim/provisioningclient/").content.decode()

    revoked = staff.post(
        "/admin/scim/provisioningclient/",
        {"action": "revoke", "_selected_action": [client.pk]},
        follow=True,
    )
    assert "Revoked 1 SCIM token" in revoked.content.decode()
    error_of(Scim(value).get("/Users"), 401)
    event = AuditEvent.objects.get(action="scim_client.revoke")
    assert event.actor == root and event.target == "HR system"
    # The name is free again for its successor.
    scimtoken("HR system")


def test_admin_index_lists_scim_clients_under_apps(staff):
    assert "SCIM provisioning clients" in staff.get("/admin/").content.decode()


def test_scim_writes_are_audited_with_the_client_as_actor(scim):
    created = body_of(scim.post("/Users", {"userName": "dan", "password": "a long secret phrase 9"}), 201)
    body_of(scim.patch(f"/Users/{created['id']}", {"op": "replace", "path": "nickName", "value": "Danny"}))
    create, change = AuditEvent.objects.filter(action__startswith="scim.user").order_by("pk")
    assert (create.action, create.actor_label, create.target) == ("scim.user_create", "SCIM Entra", "dan")
    assert change.detail == {"changed": ["nickname"]}
    assert "a long secret phrase 9" not in str(list(AuditEvent.objects.values()))
    assert "password" not in created
