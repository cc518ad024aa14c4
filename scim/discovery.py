"""What the service provider supports (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from .resources import GROUP_SCHEMA, USER_SCHEMA

CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
# Pages are at most this long, whatever count asks (RFC 7644 §3.4.2.4).
MAX_RESULTS = 200


def _url(route: str, **kwargs: str) -> str:
    return settings.ISSUER + reverse(f"scim:{route}", kwargs=kwargs or None)


def service_provider_config() -> dict[str, Any]:
    """Return the ServiceProviderConfig resource (RFC 7643 §5)."""
    return {
        "schemas": [CONFIG_SCHEMA],
        "documentationUri": settings.ISSUER + "/",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A token made for this client by manage.py scimtoken or in the admin.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": _url("service-provider-config")},
    }


def resource_types() -> dict[str, dict[str, Any]]:
    """Return the ResourceType resources by name (RFC 7643 §6)."""
    return {
        "User": {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "An account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": _url("resource-type", name="User")},
        },
        "Group": {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of accounts",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": _url("resource-type", name="Group")},
        },
    }


def _attribute(
    name: str,
    kind: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    case_exact: bool = False,
    subs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": "complex" if subs else kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "mutability": mutability,
        "returned": returned,
    }
    if subs:
        attribute["subAttributes"] = subs
    else:
        attribute.update(caseExact=case_exact, uniqueness=uniqueness)
    return attribute


def _kind_value(kind: str = "string", mutability: str = "readWrite") -> list[dict[str, Any]]:
    return [
        _attribute("value", kind, mutability=mutability),
        _attribute("display", mutability="readOnly"),
        _attribute("type"),
        _attribute("primary", "boolean"),
    ]


def schemas() -> dict[str, dict[str, Any]]:
    """Return the Schema resources by URN (RFC 7643 §7): the attributes Porchlight keeps."""
    user = [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute(
            "name",
            subs=[_attribute(sub) for sub in ("formatted", "familyName", "givenName", "middleName")],
        ),
        _attribute("displayName"),
        _attribute("nickName"),
        _attribute("profileUrl", "reference"),
        _attribute("timezone"),
        _attribute("locale"),
        _attribute("active", "boolean"),
        _attribute("password", mutability="writeOnly", returned="never"),
        _attribute("emails", multi=True, subs=_kind_value()),
        _attribute("phoneNumbers", multi=True, subs=_kind_value()),
        _attribute(
            "addresses",
            multi=True,
            subs=[
                _attribute(sub)
                for sub in (
                    "formatted",
                    "streetAddress",
                    "locality",
                    "region",
                    "postalCode",
                    "country",
                    "type",
                )
            ]
            + [_attribute("primary", "boolean")],
        ),
        _attribute("groups", multi=True, mutability="readOnly", subs=_kind_value(mutability="readOnly")),
    ]
    group = [
        _attribute("displayName", required=True, uniqueness="server"),
        _attribute(
            "members",
            multi=True,
            subs=[
                _attribute("value", mutability="immutable"),
                _attribute("display", mutability="readOnly"),
                _attribute("type", mutability="immutable"),
                _attribute("$ref", "reference", mutability="immutable"),
            ],
        ),
    ]
    found = {}
    for urn, name, attributes in ((USER_SCHEMA, "User", user), (GROUP_SCHEMA, "Group", group)):
        found[urn] = {
            "schemas": [SCHEMA_SCHEMA],
            "id": urn,
            "name": name,
            "description": f"{name} (RFC 7643 §4)",
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": _url("schema", name=urn)},
        }
    return found
