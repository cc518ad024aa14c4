"""The request sequence of Okta's SCIM 2.0 test suite (Runscope spec), over HTTP as Okta sends it.

Okta pages its lookups (``startIndex=1&count=100``), updates a profile with PUT, turns accounts
off and on with a path-less ``replace`` of ``{"active": …}``, sends a group's id back in its
replace, and removes members with ``members[value eq "…"]``.
"""

from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, body_of, error_of


def okta_user(login: str = "isabel@example.com") -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": login,
        "name": {"givenName": "Isabel", "familyName": "Cruz"},
        "emails": [{"primary": True, "value": login, "type": "work"}],
        "displayName": "Isabel Cruz",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "active": True,
    }


def test_okta_user_lifecycle(scim):
    lookup = body_of(scim.get("/Users", filter='userName eq "isabel@example.com"', startIndex=1, count=100))
    assert lookup["totalResults"] == 0 and lookup["Resources"] == []

    created = body_of(scim.post("/Users", okta_user()), 201)
    user_id = created["id"]
    assert created["locale"] == "en-US"
    fetched = scim.get(f"/Users/{user_id}")
    assert body_of(fetched)["userName"] == "isabel@example.com"
    etag = fetched["ETag"]
    assert etag == body_of(fetched)["meta"]["version"]
    # Unchanged since: 304 (RFC 7644 §3.14).
    assert scim.request("GET", f"/Users/{user_id}", if_none_match=etag).status_code == 304

    profile = {**okta_user(), "id": user_id, "name": {"givenName": "Isabel", "familyName": "Cruz-Diaz"}}
    replaced = body_of(scim.put(f"/Users/{user_id}", profile))
    assert replaced["name"]["familyName"] == "Cruz-Diaz" and replaced["meta"]["version"] != etag
    # A write made against the version before is refused.
    error_of(scim.put(f"/Users/{user_id}", profile, if_match=etag), 412)

    off = body_of(scim.patch(f"/Users/{user_id}", {"op": "replace", "value": {"active": False}}))
    assert off["active"] is False
    assert body_of(scim.get("/Users", filter="active eq false"))["totalResults"] == 1
    on = body_of(scim.patch(f"/Users/{user_id}", {"op": "replace", "value": {"active": True}}))
    assert on["active"] is True


def test_okta_pages_through_users(scim):
    ids = []
    for number in range(5):
        user = okta_user(f"user{number}@example.com")
        ids.append(body_of(scim.post("/Users", user), 201)["id"])
    page = body_of(scim.get("/Users", startIndex=3, count=2, filter='userName sw "user"'))
    assert page["totalResults"] == 5 and page["startIndex"] == 3 and page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    last = body_of(scim.get("/Users", startIndex=5, count=10))
    assert [r["id"] for r in last["Resources"]] == ids[4:]
    counted = body_of(scim.get("/Users", count=0))
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    only = body_of(scim.get("/Users", attributes="userName", count=1))["Resources"][0]
    assert set(only) == {"schemas", "id", "userName", "meta"}
    both = body_of(
        scim.get("/Users", filter='userName eq "user1@example.com" and emails.value eq "USER1@example.com"')
    )
    assert [r["id"] for r in both["Resources"]] == [ids[1]]


def test_okta_group_lifecycle(scim):
    alice = body_of(scim.post("/Users", okta_user("alice@example.com")), 201)["id"]
    group = body_of(scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}), 201)
    group_id = group["id"]
    assert scim.get(f"/Groups/{group_id}").status_code == 200

    renamed = body_of(
        scim.patch(
            f"/Groups/{group_id}", {"op": "replace", "value": {"id": group_id, "displayName": "Platform"}}
        )
    )
    assert renamed["displayName"] == "Platform" and renamed["id"] == group_id

    added = body_of(
        scim.patch(
            f"/Groups/{group_id}",
            {"op": "add", "path": "members", "value": [{"value": alice, "display": "alice@example.com"}]},
        )
    )
    assert [m["value"] for m in added["members"]] == [alice]
    removed = body_of(
        scim.patch(f"/Groups/{group_id}", {"op": "remove", "path": f'members[value eq "{alice}"]'})
    )
    assert removed["members"] == []

    replaced = body_of(
        scim.put(
            f"/Groups/{group_id}",
            {"schemas": [GROUP_SCHEMA], "displayName": "Platform", "members": [{"value": alice}]},
        )
    )
    assert [m["value"] for m in replaced["members"]] == [alice]
    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    error_of(scim.delete(f"/Groups/{group_id}"), 404)
