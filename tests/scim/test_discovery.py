"""ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 §4) tell a client what is supported."""

from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, body_of, error_of


def test_service_provider_config_says_what_is_supported(scim):
    config = body_of(scim.get("/ServiceProviderConfig"))
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    assert config["bulk"]["supported"] is False and config["etag"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas_describe_users_and_groups(scim):
    types = body_of(scim.get("/ResourceTypes"))
    assert {r["endpoint"] for r in types["Resources"]} == {"/Users", "/Groups"}
    assert body_of(scim.get("/ResourceTypes/User"))["schema"] == USER_SCHEMA
    schemas = body_of(scim.get("/Schemas"))
    assert {s["id"] for s in schemas["Resources"]} == {USER_SCHEMA, GROUP_SCHEMA}
    user = body_of(scim.get(f"/Schemas/{USER_SCHEMA}"))
    names = {a["name"]: a for a in user["attributes"]}
    assert names["userName"]["uniqueness"] == "server" and names["password"]["returned"] == "never"
    assert names["groups"]["mutability"] == "readOnly"


def test_discovery_needs_the_token_too(scim):
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        error_of(scim.request("GET", path, authorization=""), 401)
