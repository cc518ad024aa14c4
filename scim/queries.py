"""Filters (RFC 7644 §3.4.2.2) as database conditions, and the ``attributes`` a response keeps (§3.4.2.5)."""

from typing import Any

from django.db.models import Q

from .errors import invalid_filter
from .filters import Comparison, attribute_name

# SCIM attribute → (column, kind, case exact). RFC 7643 §4.1.1, §3.1: userName, emails and
# displayName compare without case, externalId with it.
USER_COLUMNS: dict[str, tuple[str, str, bool]] = {
    "id": ("pk", "id", True),
    "username": ("username", "string", False),
    "emails": ("email", "string", False),
    "emails.value": ("email", "string", False),
    "externalid": ("scim__external_id", "string", True),
    "displayname": ("scim__display_name", "string", False),
    "name.givenname": ("first_name", "string", False),
    "name.familyname": ("last_name", "string", False),
    "active": ("is_active", "boolean", True),
}
GROUP_COLUMNS: dict[str, tuple[str, str, bool]] = {
    "id": ("pk", "id", True),
    "displayname": ("name", "string", False),
    "externalid": ("scim__external_id", "string", True),
    "members": ("user__pk", "id", True),
    "members.value": ("user__pk", "id", True),
}
STRING_LOOKUPS = {"eq": "exact", "co": "contains", "sw": "startswith", "ew": "endswith"}
NOTHING = Q(pk__in=[])


def _condition(comparison: Comparison, columns: dict[str, tuple[str, str, bool]]) -> Q:
    if comparison.attribute not in columns:
        raise invalid_filter(f"Filtering on {comparison.attribute!r} is not supported.")
    column, kind, case_exact = columns[comparison.attribute]
    operator, value = comparison.operator, comparison.value
    if operator == "pr":
        return ~Q(**{column: ""}) & Q(**{f"{column}__isnull": False}) if kind == "string" else Q()
    if operator not in ("eq", "ne") and not (kind == "string" and operator in STRING_LOOKUPS):
        raise invalid_filter(f"{comparison.attribute} cannot be compared with '{operator}'.")
    if kind == "id":
        # Ids are strings in SCIM (RFC 7643 §3.1); one that is no number here names nothing.
        text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
        condition = (
            Q(**{column: int(text)}) if text.isascii() and text.isdigit() and len(text) <= 18 else NOTHING
        )
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise invalid_filter(f"{comparison.attribute} is compared with true or false.")
        condition = Q(**{column: value})
    else:
        if not isinstance(value, str):
            raise invalid_filter(f"{comparison.attribute} is compared with a string.")
        lookup = STRING_LOOKUPS[operator if operator != "ne" else "eq"]
        condition = Q(**{f"{column}__{lookup if case_exact else 'i' + lookup}": value})
    return ~condition if operator == "ne" else condition


def filter_condition(comparisons: list[Comparison], columns: dict[str, tuple[str, str, bool]]) -> Q:
    """Return the condition every comparison sets, or raise ``invalidFilter`` for one not supported."""
    condition = Q()
    for comparison in comparisons:
        condition &= _condition(comparison, columns)
    return condition


ALWAYS_RETURNED = {"id", "schemas", "meta"}


def _names(value: str) -> set[str]:
    return {
        attribute_name(name.strip()).split(".")[0].split("[")[0] for name in value.split(",") if name.strip()
    }


def projected(resource: dict[str, Any], *, attributes: str = "", excluded: str = "") -> dict[str, Any]:
    """Return ``resource`` with only ``attributes``, or without ``excluded`` (top-level names)."""
    if attributes:
        keep = _names(attributes) | ALWAYS_RETURNED
        return {key: value for key, value in resource.items() if key.lower() in keep}
    if excluded:
        drop = _names(excluded) - ALWAYS_RETURNED
        return {key: value for key, value in resource.items() if key.lower() not in drop}
    return resource
