"""Users and Groups as SCIM resources (RFC 7643 §4), and back.

The mapping onto Porchlight's user (docs/scim.md has it as a table): ``userName`` is the username,
``name`` the given, family and middle names, ``emails`` the one e-mail address (the primary, else
the work one, else the first), ``phoneNumbers`` and ``addresses`` likewise, ``active`` whether the
account can sign in. ``externalId`` and ``displayName``, which no user column holds, live in
``ProvisionedUser``. ``groups`` is read-only (RFC 7643 §4.1.2): membership changes through Groups.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import QuerySet
from django.urls import reverse

from accounts.models import User

from .errors import invalid_value
from .models import ProvisionedGroup, ProvisionedUser

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# The user fields a SCIM resource sets; the rest of the account is Porchlight's own.
USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "middle_name",
    "nickname",
    "profile",
    "locale",
    "zoneinfo",
    "email",
    "phone_number",
    "address_formatted",
    "address_street_address",
    "address_locality",
    "address_region",
    "address_postal_code",
    "address_country",
    "is_active",
)
ADDRESS_PARTS = {
    "formatted": "address_formatted",
    "streetaddress": "address_street_address",
    "locality": "address_locality",
    "region": "address_region",
    "postalcode": "address_postal_code",
    "country": "address_country",
}
ADDRESS_NAMES = {
    "formatted": "formatted",
    "streetaddress": "streetAddress",
    "locality": "locality",
    "region": "region",
    "postalcode": "postalCode",
    "country": "country",
}


def provisionable_users() -> QuerySet[User]:
    """Return the accounts SCIM sees: a deleted one (awaiting erasure, or erased) is gone (RFC 7644 §3.6)."""
    return User.objects.filter(erased__isnull=True, erase_after__isnull=True)


def location(kind: str, pk: int | None = None) -> str:
    """Return the absolute URL of the ``kind`` endpoint ("Users", "Groups"), or of one resource in it."""
    if pk is None:
        return settings.ISSUER + reverse(f"scim:{kind.lower()}")
    return settings.ISSUER + reverse(f"scim:{kind.lower()[:-1]}", kwargs={"pk": pk})


def version_of(resource: dict[str, Any]) -> str:
    """Return a weak entity tag of ``resource``'s content (RFC 7644 §3.14, RFC 7232 §2.3)."""
    content = json.dumps({k: v for k, v in resource.items() if k != "meta"}, sort_keys=True)
    return 'W/"' + hashlib.sha256(content.encode()).hexdigest()[:20] + '"'


def _provisioned(user: User) -> ProvisionedUser | None:
    try:
        return user.scim  # type: ignore[attr-defined,no-any-return]
    except ObjectDoesNotExist:
        return None


def display_default(user: User) -> str:
    """Return the displayName shown for ``user`` when none was provisioned: the full name, or the username."""
    return (
        " ".join(part for part in (user.first_name, user.middle_name, user.last_name) if part)
        or user.username
    )


def user_resource(user: User) -> dict[str, Any]:
    """Return ``user`` as a SCIM User (RFC 7643 §4.1), leaving out attributes that have no value."""
    extra = _provisioned(user)
    name = {
        key: value
        for key, value in (
            ("givenName", user.first_name),
            ("familyName", user.last_name),
            ("middleName", user.middle_name),
        )
        if value
    }
    formatted = " ".join(part for part in (user.first_name, user.middle_name, user.last_name) if part)
    if formatted:
        name["formatted"] = formatted
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": str(user.pk)}
    if extra is not None and extra.external_id:
        resource["externalId"] = extra.external_id
    resource["userName"] = user.username
    if name:
        resource["name"] = name
    resource["displayName"] = (extra.display_name if extra is not None else "") or display_default(user)
    for key, value in (
        ("nickName", user.nickname),
        ("profileUrl", user.profile),
        ("locale", user.locale),
        ("timezone", user.zoneinfo),
    ):
        if value:
            resource[key] = value
    resource["active"] = user.is_active
    if user.email:
        resource["emails"] = [{"value": user.email, "type": "work", "primary": True}]
    if user.phone_number:
        resource["phoneNumbers"] = [{"value": user.phone_number, "type": "work", "primary": True}]
    address = {ADDRESS_NAMES[key]: getattr(user, column) for key, column in ADDRESS_PARTS.items()}
    address = {key: value for key, value in address.items() if value}
    if address:
        resource["addresses"] = [{**address, "type": "work", "primary": True}]
    groups = sorted(user.groups.all(), key=lambda group: group.name)
    if groups:
        resource["groups"] = [
            {"value": str(group.pk), "display": group.name, "$ref": location("Groups", group.pk)}
            for group in groups
        ]
    resource["meta"] = {
        "resourceType": "User",
        "created": user.date_joined.isoformat(),
        "lastModified": user.updated_at.isoformat(),
        "location": location("Users", user.pk),
    }
    resource["meta"]["version"] = version_of(resource)
    return resource


def group_resource(group: Group) -> dict[str, Any]:
    """Return ``group`` as a SCIM Group (RFC 7643 §4.2)."""
    try:
        extra: ProvisionedGroup | None = group.scim  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        extra = None
    resource: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": str(group.pk)}
    if extra is not None and extra.external_id:
        resource["externalId"] = extra.external_id
    resource["displayName"] = group.name
    members = provisionable_users().filter(groups=group).order_by("pk").only("pk", "username")
    resource["members"] = [
        {"value": str(user.pk), "display": user.username, "type": "User", "$ref": location("Users", user.pk)}
        for user in members
    ]
    meta: dict[str, Any] = {"resourceType": "Group", "location": location("Groups", group.pk)}
    if extra is not None:
        meta.update(created=extra.created.isoformat(), lastModified=extra.last_modified.isoformat())
    resource["meta"] = meta
    meta["version"] = version_of(resource)
    return resource


# --- reading a resource a client sent ---------------------------------------------------------


def lowered(value: Any) -> Any:
    """Return ``value`` with every object's keys lower-cased (RFC 7643 §2.1: names are case-insensitive)."""
    if isinstance(value, dict):
        return {str(key).lower(): lowered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lowered(item) for item in value]
    return value


def text(value: Any, name: str) -> str:
    """Return a string attribute's value ("" for null), or refuse another type."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be a string.")
    return value


def boolean(value: Any, name: str) -> bool:
    """Return a boolean attribute's value; "True" and "False" are taken too (Microsoft Entra sends them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(f"{name} must be true or false.")


def _chosen(values: Any, name: str) -> dict[str, Any] | None:
    # One value is kept of a multi-valued attribute: the primary, else the work one, else the first.
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(value, dict) for value in values):
        raise invalid_value(f"{name} must be a list of objects.")
    if not values:
        return None
    for test in (lambda v: v.get("primary") is True, lambda v: str(v.get("type", "")).lower() == "work"):
        for value in values:
            if test(value):
                return value  # type: ignore[no-any-return]
    return values[0]  # type: ignore[no-any-return]


@dataclass
class UserWrite:
    """The user fields a User resource sets, and what goes beside them."""

    fields: dict[str, Any]
    external_id: str
    display_name: str
    password: str | None = None


def user_write(resource: Any) -> UserWrite:
    """Read a User resource (a POST or PUT body, or a patched resource) into the fields it sets."""
    if not isinstance(resource, dict):
        raise invalid_value("A User is a JSON object.")
    data = lowered(resource)
    username = text(data.get("username"), "userName").strip()
    if not username:
        raise invalid_value("userName is required.")
    name = data.get("name") or {}
    if not isinstance(name, dict):
        raise invalid_value("name must be an object.")
    fields: dict[str, Any] = {
        "username": username,
        "first_name": text(name.get("givenname"), "name.givenName"),
        "last_name": text(name.get("familyname"), "name.familyName"),
        "middle_name": text(name.get("middlename"), "name.middleName"),
        "nickname": text(data.get("nickname"), "nickName"),
        "profile": text(data.get("profileurl"), "profileUrl"),
        "locale": text(data.get("locale"), "locale"),
        "zoneinfo": text(data.get("timezone"), "timezone"),
        # None: not said; a new account is active, a replaced one keeps its state.
        "is_active": boolean(data["active"], "active") if data.get("active") is not None else None,
    }
    email = _chosen(data.get("emails"), "emails")
    fields["email"] = text(email.get("value"), "emails.value").strip() if email else ""
    phone = _chosen(data.get("phonenumbers"), "phoneNumbers")
    fields["phone_number"] = text(phone.get("value"), "phoneNumbers.value").strip() if phone else ""
    address = _chosen(data.get("addresses"), "addresses") or {}
    for key, column in ADDRESS_PARTS.items():
        fields[column] = text(address.get(key), f"addresses.{ADDRESS_NAMES[key]}")
    password = data.get("password")
    return UserWrite(
        fields=fields,
        external_id=_short(text(data.get("externalid"), "externalId"), "externalId"),
        display_name=_short(text(data.get("displayname"), "displayName"), "displayName"),
        password=text(password, "password") if password is not None else None,
    )


def _short(value: str, name: str) -> str:
    if len(value) > 255:
        raise invalid_value(f"{name} is too long (255 characters at most).")
    return value


def user_fields_check(user: User, names: Iterable[str]) -> None:
    """Validate the named fields of ``user`` as the model does, or raise ``invalidValue``."""
    names = set(names)
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in names])
    except ValidationError as error:
        problems = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in error.message_dict.items())
        raise invalid_value(problems) from error


@dataclass
class GroupWrite:
    """The name, externalId and members (user primary keys) a Group resource sets."""

    name: str
    external_id: str
    members: list[int] | None


def member_ids(values: Any) -> list[int]:
    """Return the user primary keys of a ``members`` value (a list of ``{"value": id}``)."""
    if isinstance(values, dict):
        values = [values]
    if not isinstance(values, list):
        raise invalid_value("members must be a list of objects with a value.")
    ids = []
    for member in lowered(values):
        if not isinstance(member, dict) or not isinstance(member.get("value"), str | int):
            raise invalid_value("Each member is an object whose value is a User's id.")
        value = str(member["value"]).strip()
        if not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise invalid_value(f"{value[:40]!r} is not the id of a User here.")
        ids.append(int(value))
    return ids


def group_write(resource: Any) -> GroupWrite:
    """Read a Group resource into its name, externalId and members."""
    if not isinstance(resource, dict):
        raise invalid_value("A Group is a JSON object.")
    data = lowered(resource)
    name = text(data.get("displayname"), "displayName").strip()
    if not name:
        raise invalid_value("displayName is required.")
    if len(name) > Group._meta.get_field("name").max_length:  # type: ignore[operator]
        raise invalid_value("displayName is too long (150 characters at most).")
    members = data.get("members")
    return GroupWrite(
        name=name,
        external_id=_short(text(data.get("externalid"), "externalId"), "externalId"),
        members=None if members is None else member_ids(members),
    )
