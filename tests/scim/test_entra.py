"""The request sequence of Microsoft Entra's SCIM validator, over HTTP as Entra sends it.

Entra capitalises operations ("Replace"), sends booleans as the strings "True" and "False",
filters users by userName and groups by displayName with ``excludedAttributes=members``, removes
members by listing them as the value, and sends the enterprise extension, which is left aside.
"""

from audit.models import AuditEvent
from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, body_of, error_of

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def entra_user(user_name: str = "ryan@contoso.example", external_id: str = "0a21f0f2-8d2a") -> dict:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "displayName": "Ryan Leenay",
        "emails": [{"primary": True, "type": "work", "value": "ryan@contoso.example"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan"},
        "roles": [],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "701984"},
    }


def test_entra_user_lifecycle(scim):
    created = body_of(scim.post("/Users", entra_user()), 201)
    user_id = created["id"]
    assert created["userName"] == "ryan@contoso.example"
    assert created["externalId"] == "0a21f0f2-8d2a"
    assert created["displayName"] == "Ryan Leenay"
    assert created["name"]["givenName"] == "Ryan" and created["active"] is True
    assert created["emails"] == [{"value": "ryan@contoso.example", "type": "work", "primary": True}]
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{user_id}")

    # Entra looks the user up by userName before every change, and expects none for a stranger.
    found = body_of(scim.get("/Users", filter='userName eq "Ryan@Contoso.example"'))
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user_id
    assert body_of(scim.get("/Users", filter='userName eq "nobody@contoso.example"'))["totalResults"] == 0
    by_external = body_of(scim.get("/Users", filter='externalId eq "0a21f0f2-8d2a"'))
    assert [r["id"] for r in by_external["Resources"]] == [user_id]

    patched = body_of(
        scim.patch(
            f"/Users/{user_id}",
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "leenay@contoso.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Leenay-Smith"},
            {"op": "Replace", "path": "displayName", "value": "Ryan L."},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
            {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        )
    )
    assert patched["emails"][0]["value"] == "leenay@contoso.example"
    assert patched["name"]["familyName"] == "Leenay-Smith"
    assert patched["displayName"] == "Ryan L."
    assert patched["addresses"][0]["locality"] == "Redmond"
    again = body_of(scim.get(f"/Users/{user_id}"))
    assert again["emails"][0]["value"] == "leenay@contoso.example"

    renamed = body_of(
        scim.patch(
            f"/Users/{user_id}", {"op": "Replace", "path": "userName", "value": "ryan.l@contoso.example"}
        )
    )
    assert renamed["userName"] == "ryan.l@contoso.example"

    disabled = body_of(scim.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"}))
    assert disabled["active"] is False
    deactivation = AuditEvent.objects.get(action="account.deactivate")
    assert deactivation.actor_label == "SCIM Entra" and deactivation.target == "ryan.l@contoso.example"

    assert scim.delete(f"/Users/{user_id}").status_code == 204
    error_of(scim.get(f"/Users/{user_id}"), 404)
    assert body_of(scim.get("/Users", filter='userName eq "ryan.l@contoso.example"'))["totalResults"] == 0
    assert AuditEvent.objects.filter(action="account.deletion_request", actor_label="SCIM Entra").exists()


def test_entra_creating_an_existing_user_is_a_uniqueness_conflict(scim):
    body_of(scim.post("/Users", entra_user()), 201)
    error_of(scim.post("/Users", entra_user("RYAN@contoso.example", "other")), 409, "uniqueness")


def test_entra_group_lifecycle(scim):
    ryan = body_of(scim.post("/Users", entra_user()), 201)["id"]
    other = entra_user("bo@contoso.example", "b0")
    other["emails"][0]["value"] = "bo@contoso.example"
    bo = body_of(scim.post("/Users", other), 201)["id"]

    group = body_of(
        scim.post(
            "/Groups",
            {"schemas": [GROUP_SCHEMA], "externalId": "8aa1a0c0", "displayName": "Sales", "members": []},
        ),
        201,
    )
    group_id = group["id"]
    assert group["displayName"] == "Sales" and group["members"] == []

    found = body_of(scim.get("/Groups", filter='displayName eq "sales"', excludedAttributes="members"))
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == group_id and "members" not in found["Resources"][0]

    added = body_of(
        scim.patch(
            f"/Groups/{group_id}", {"op": "Add", "path": "members", "value": [{"value": ryan}, {"value": bo}]}
        )
    )
    assert sorted(m["value"] for m in added["members"]) == sorted([ryan, bo])
    # The user's read-only groups attribute shows the membership.
    assert body_of(scim.get(f"/Users/{ryan}"))["groups"][0]["display"] == "Sales"
    members = body_of(scim.get("/Groups", filter=f'members.value eq "{bo}"'))
    assert [r["id"] for r in members["Resources"]] == [group_id]

    removed = body_of(
        scim.patch(f"/Groups/{group_id}", {"op": "Remove", "path": "members", "value": [{"value": ryan}]})
    )
    assert [m["value"] for m in removed["members"]] == [bo]

    renamed = body_of(
        scim.patch(f"/Groups/{group_id}", {"op": "Replace", "path": "displayName", "value": "EMEA"})
    )
    assert renamed["displayName"] == "EMEA" and [m["value"] for m in renamed["members"]] == [bo]

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    error_of(scim.get(f"/Groups/{group_id}"), 404)
    assert "groups" not in body_of(scim.get(f"/Users/{bo}"))
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"scim.group_create", "scim.group_change", "scim.group_delete"} <= actions
