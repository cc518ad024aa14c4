"""Refusals are RFC 7644 §3.12 error bodies with the right scimType; no input gives a 500."""

import json
from urllib.parse import quote

import pytest

from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, Scim, body_of, error_of


def new_user(scim, name: str = "ada") -> str:
    body = {"schemas": [USER_SCHEMA], "userName": name, "emails": [{"value": f"{name}@example.com"}]}
    return body_of(scim.post("/Users", body), 201)["id"]


def test_scim_without_a_token_is_401_with_a_bearer_challenge(scim):
    response = scim.request("GET", "/Users", authorization="")
    error_of(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    for wrong in (
        "Bearer nope",
        f"Bearer {scim.token}x",
        f"Basic {scim.token}",
        "Bearer .",
        f"Bearer {scim.token.split('.')[0]}.",
    ):
        error_of(scim.request("GET", "/Users", authorization=wrong), 401)
    error_of(scim.post("/Users", {"userName": "x"}, authorization="Bearer x.y"), 401)


@pytest.mark.parametrize(
    "query",
    [
        'userName eq "a" or userName eq "b"',
        'not (userName eq "a")',
        'emails[type eq "work"]',
        'title eq "boss"',
        'userName gt "a"',
        'userName eq "unclosed',
        "userName eq",
        "userName eq 5",
        'active eq "yes"',
        "",
        'userName eq "a" and',
    ],
)
def test_scim_unsupported_or_broken_filters_are_invalid_filter(scim, query):
    error_of(scim.get("/Users", filter=quote(query)), 400, "invalidFilter")


def test_scim_group_filter_on_an_unknown_attribute_is_invalid_filter(scim):
    error_of(scim.get("/Groups", filter=quote('userName eq "x"')), 400, "invalidFilter")


def test_scim_bad_paging_is_invalid_value(scim):
    error_of(scim.get("/Users", startIndex="abc"), 400, "invalidValue")
    error_of(scim.get("/Users", count="1.5"), 400, "invalidValue")
    page = body_of(scim.get("/Users", startIndex=-4, count=-1))
    assert page["startIndex"] == 1 and page["Resources"] == []


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("{", "invalidSyntax"),
        ("[]", "invalidValue"),
        ("null", "invalidValue"),
        (b"\xff\xfe", "invalidSyntax"),
        ("[" * 100000, "invalidSyntax"),
        ("1" * 5000, "invalidSyntax"),
        (json.dumps({"userName": 5}), "invalidValue"),
        (json.dumps({"userName": ""}), "invalidValue"),
        (json.dumps({"displayName": "no user name"}), "invalidValue"),
        (json.dumps({"userName": "a b c"}), "invalidValue"),
        (json.dumps({"userName": "x" * 151}), "invalidValue"),
        (json.dumps({"userName": "bo", "active": "maybe"}), "invalidValue"),
        (json.dumps({"userName": "bo", "name": "Bo"}), "invalidValue"),
        (json.dumps({"userName": "bo", "emails": "bo@example.com"}), "invalidValue"),
        (json.dumps({"userName": "bo", "emails": [{"value": "not an address"}]}), "invalidValue"),
        (json.dumps({"userName": "bo", "emails": [{"value": ["bo@example.com"]}]}), "invalidValue"),
        (json.dumps({"userName": "bo", "profileUrl": "javascript:alert(1)"}), "invalidValue"),
        (json.dumps({"userName": "bo", "externalId": "x" * 300}), "invalidValue"),
        (json.dumps({"userName": "bo", "password": "123"}), "invalidValue"),
    ],
)
def test_scim_malformed_user_bodies_are_refused(scim, body, scim_type):
    error_of(scim.post("/Users", raw=body), 400, scim_type)


def test_scim_user_conflicts_are_uniqueness(scim):
    ada = new_user(scim, "ada")
    new_user(scim, "bob")
    error_of(scim.post("/Users", {"userName": "ADA"}), 409, "uniqueness")
    error_of(
        scim.post("/Users", {"userName": "carol", "emails": [{"value": "Bob@example.com"}]}),
        409,
        "uniqueness",
    )
    error_of(
        scim.patch(f"/Users/{ada}", {"op": "replace", "path": "userName", "value": "Bob"}), 409, "uniqueness"
    )


def test_scim_group_conflicts_and_unknown_members(scim):
    body_of(scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Ops"}), 201)
    error_of(scim.post("/Groups", {"displayName": "ops"}), 409, "uniqueness")
    error_of(
        scim.post("/Groups", {"displayName": "Dev", "members": [{"value": "999999"}]}), 400, "invalidValue"
    )
    error_of(scim.post("/Groups", {"displayName": "Dev", "members": [{"value": "abc"}]}), 400, "invalidValue")
    error_of(
        scim.post("/Groups", {"displayName": "Dev", "members": [{"value": "\u00b2"}]}), 400, "invalidValue"
    )
    assert body_of(scim.get("/Groups", filter=quote('members.value eq "\u00b2"')))["totalResults"] == 0
    error_of(scim.post("/Groups", {"displayName": "Dev", "members": "everyone"}), 400, "invalidValue")
    error_of(scim.post("/Groups", {"displayName": ""}), 400, "invalidValue")
    error_of(scim.post("/Groups", {"displayName": "x" * 151}), 400, "invalidValue")


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        (None, "invalidSyntax"),
        ([], "invalidSyntax"),
        (["replace"], "invalidSyntax"),
        ([{"op": "move", "path": "userName", "value": "x"}], "invalidSyntax"),
        ([{"op": "remove"}], "noTarget"),
        (
            [{"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "x@example.com"}}],
            "noTarget",
        ),
        ([{"op": "replace", "path": "emails[type eq ", "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": "emails[type eq].value", "value": "x"}], "invalidFilter"),
        (
            [{"op": "replace", "path": 'emails[type eq "work" or primary eq true].value', "value": "x"}],
            "invalidFilter",
        ),
        ([{"op": "replace", "path": "user name", "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": 7, "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": "userName"}], "invalidValue"),
        ([{"op": "replace", "path": "userName", "value": None}], "invalidValue"),
        ([{"op": "replace", "value": "x"}], "invalidValue"),
        ([{"op": "replace", "path": "active", "value": "perhaps"}], "invalidValue"),
        ([{"op": "replace", "path": "password", "value": "a new long password 42"}], "mutability"),
        ([{"op": "add", "path": "userName.first", "value": "x"}], "invalidValue"),
    ],
)
def test_scim_malformed_patches_are_refused(scim, operations, scim_type):
    ada = new_user(scim)
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
    error_of(scim.request("PATCH", f"/Users/{ada}", body), 400, scim_type)
    assert body_of(scim.get(f"/Users/{ada}"))["userName"] == "ada"


def test_scim_unknown_ids_and_methods(scim):
    for path in (
        "/Users/424242",
        "/Users/abc",
        "/Users/" + "9" * 40,
        "/Groups/7",
        "/Schemas/urn:nope",
        "/ResourceTypes/Printer",
    ):
        error_of(scim.get(path), 404)
    error_of(scim.post("/Users/1", {"userName": "x"}), 405)
    error_of(scim.put("/Users", {"userName": "x"}), 405)
    error_of(scim.delete("/Groups"), 405)
    error_of(scim.post("/ServiceProviderConfig", {}), 405)


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
GARBAGE = (
    "",
    "{}",
    '{"Operations": [{"op": "add", "path": "members", "value": [{"value": null}]}]}',
    '{"Operations": [{"op": "add", "path": "emails[value eq 1].x", "value": {}}]}',
    '{"Operations": [{"op": "replace", "path": "name", "value": [1, 2]}]}',
    '{"Operations": [{"op": "replace", "value": {"emails": {"value": 3}}}]}',
    '{"Operations": [{"op": "remove", "path": "members[value pr]"}]}',
    '{"userName": "z", "emails": [1, 2], "members": [[]]}',
    '{"displayName": {"a": 1}, "members": {"value": true}}',
    '"string"',
    "\u0000",
)


def test_scim_no_input_gives_a_500(scim):
    ada = new_user(scim)
    group = body_of(scim.post("/Groups", {"displayName": "G", "members": [{"value": ada}]}), 201)["id"]
    paths = (
        "/Users",
        f"/Users/{ada}",
        "/Groups",
        f"/Groups/{group}",
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
    )
    for path in paths:
        for method in METHODS:
            for raw in GARBAGE:
                response = scim.request(method, path, raw=raw)
                assert response.status_code < 500, (method, path, raw, response.content[:300])
                if response.status_code >= 400:
                    error_of(response, response.status_code)


def test_scim_a_revoked_token_stops_working(db):
    from scim.models import ProvisioningClient
    from scim.tokens import provisioning_client_create, provisioning_client_revoke

    client, token = provisioning_client_create(name="Okta")
    scim = Scim(token)
    assert scim.get("/Users").status_code == 200
    provisioning_client_revoke(client=client, actor=None)
    error_of(scim.get("/Users"), 401)
    assert ProvisioningClient.objects.get().revoked is not None


@pytest.mark.parametrize(
    "value",
    [
        "a\x85\x0b\x1bb",
        "a\x00b",
        "\xed\xa0\x80.x",
        "\xff\xfe.\xff",
        "x" * 10000 + "." + "y" * 10000,
        "..",
        "a.b.c",
    ],
)
def test_scim_any_bearer_value_is_401(scim, value):
    error_of(scim.request("GET", "/Users", authorization=f"Bearer {value}"), 401)


@pytest.mark.parametrize(
    "query",
    [
        "filter=%ff%fe",
        "filter=userName%20eq%20%22%ED%A0%80%22",
        "startIndex=%00",
        "count=9" * 50,
        "filter=" + "a" * 5000,
    ],
)
def test_scim_odd_query_strings_are_answered(scim, query):
    response = scim.request("GET", "/Users?" + query)
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        error_of(response, 400)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-7", "text/plain", "application/json"]
)
def test_scim_bodies_are_read_as_json_whatever_their_type(scim, content_type):
    response = scim.http.post(
        "/scim/v2/Users",
        json.dumps({"userName": "kim"}),
        content_type=content_type,
        headers={"authorization": f"Bearer {scim.token}"},
    )
    assert body_of(response, 201)["userName"] == "kim"


def test_scim_oversized_body_is_413(scim, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error_of(scim.post("/Users", {"userName": "big", "displayName": "x" * 2000}), 413)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/Users?filter=userName%20eq%20%22a%00b%22", None),
        ("GET", "/Groups?filter=displayName%20eq%20%22%00%22", None),
        ("GET", "/Users?attributes=%00", None),
        ("POST", "/Users", {"userName": "a\x00b"}),
        ("POST", "/Users", {"userName": "nul", "externalId": "\x00"}),
        ("POST", "/Groups", {"displayName": "G\x00"}),
        ("POST", "/Users", {"userName": "nul", "\x00": 1}),
    ],
)
def test_scim_nul_characters_are_refused_on_every_database(scim, method, path, body):
    error_of(scim.request(method, path, body), 400, "invalidValue")


def test_scim_a_nul_in_the_token_is_401(scim):
    error_of(scim.request("GET", "/Users", authorization="Bearer \x00.x"), 401)
    error_of(scim.request("GET", "/Users", authorization=f"Bearer {scim.token.split('.')[0]}\x00.x"), 401)


def test_scim_an_unparseable_form_is_a_scim_error(scim):
    response = scim.http.post(
        "/scim/v2/Users",
        "x",
        content_type="multipart/form-data",
        headers={"authorization": f"Bearer {scim.token}"},
    )
    error_of(response, 400, "invalidSyntax")


def test_scim_patch_add_of_an_address_is_kept(scim):
    ada = new_user(scim)
    address = {"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "country": "US"}
    added = body_of(scim.patch(f"/Users/{ada}", {"op": "add", "path": "addresses", "value": [address]}))
    assert added["addresses"][0]["streetAddress"] == "1 Main St"
    again = body_of(scim.patch(f"/Users/{ada}", {"op": "add", "path": "addresses", "value": [address]}))
    assert len(again["addresses"]) == 1


def test_scim_other_paths_are_scim_errors(scim):
    error_of(scim.get("/Printers"), 404)
    error_of(scim.get("/Users/1/extra"), 404)
    error_of(scim.post("/Bulk", {"Operations": []}), 501)
    error_of(scim.post("/.search", {"filter": 'userName eq "x"'}), 501)
    error_of(scim.get("/Me"), 501)
    error_of(scim.request("GET", "/Printers", authorization=""), 401)
