"""SCIM filters (RFC 7644 §3.4.2.2), the part provisioning clients send: ``attr op value`` joined
with ``and``, both in ``?filter=`` and inside a PATCH path's brackets (``emails[type eq "work"]``).

``or``, ``not``, parentheses and a filter inside a filter's attribute are refused with
``invalidFilter`` rather than half understood. Attribute names and operators are case-insensitive
(§3.4.2.2); a schema URN before an attribute name (§3.10) is dropped.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import invalid_filter

TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[()\[\]]|[^\s()\[\]"]+)')
OPERATORS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"}
URN = re.compile(r"^urn:ietf:params:scim:schemas:core:2\.0:(?:user|group):", re.IGNORECASE)
MAX_FILTER = 1000


@dataclass(frozen=True)
class Comparison:
    """``attribute operator value``; ``attribute`` is lower-case and dotted (``emails.value``)."""

    attribute: str
    operator: str
    value: Any = None


def attribute_name(path: str) -> str:
    """Return ``path`` without its core schema URN, lower-cased."""
    return URN.sub("", path).lower()


def _literal(token: str) -> Any:
    # RFC 7644 §3.4.2.2: compValue is false / null / true / number / string (JSON's).
    try:
        value = json.loads(token)
    except ValueError as error:
        raise invalid_filter(f"{token[:40]!r} is not a value (strings are quoted).") from error
    if isinstance(value, list | dict):
        raise invalid_filter("A filter compares with a string, number, boolean or null.")
    return value


def filter_parse(text: str) -> list[Comparison]:
    """Return the comparisons of ``text``, all of which must hold, or raise ``invalidFilter``."""
    if len(text) > MAX_FILTER:
        raise invalid_filter("The filter is too long.")
    tokens = []
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            if text[position:].strip():
                raise invalid_filter("The filter could not be read.")
            break
        tokens.append(match.group(1))
        position = match.end()
    comparisons: list[Comparison] = []
    index = 0
    while True:
        if index >= len(tokens):
            raise invalid_filter("The filter ends too soon.")
        attribute = tokens[index]
        if attribute in "()[]" or attribute.startswith('"') or attribute.lower() in ("not", "and", "or"):
            raise invalid_filter(
                "Only comparisons joined with 'and' are supported (no 'or', 'not' or groups)."
            )
        if index + 1 >= len(tokens):
            raise invalid_filter("The filter ends too soon.")
        operator = tokens[index + 1].lower()
        if operator not in OPERATORS:
            raise invalid_filter(f"{tokens[index + 1][:20]!r} is not a comparison operator.")
        if operator == "pr":
            comparisons.append(Comparison(attribute_name(attribute), operator))
            index += 2
        else:
            if index + 2 >= len(tokens):
                raise invalid_filter("The filter ends too soon.")
            comparisons.append(Comparison(attribute_name(attribute), operator, _literal(tokens[index + 2])))
            index += 3
        if index == len(tokens):
            return comparisons
        if tokens[index].lower() != "and":
            raise invalid_filter(
                "Only comparisons joined with 'and' are supported (no 'or', 'not' or groups)."
            )
        index += 1


def _matches(actual: Any, comparison: Comparison) -> bool:
    operator, expected = comparison.operator, comparison.value
    if operator == "pr":
        return actual not in (None, "", [], {})
    if isinstance(actual, str) and isinstance(expected, str):
        # Sub-attributes provisioning clients filter on (type, value, display) are caseExact
        # false (RFC 7643 §4.1.2, §4.2), so strings compare without case.
        actual, expected = actual.lower(), expected.lower()
    if operator == "eq":
        return bool(actual == expected)
    if operator == "ne":
        return bool(actual != expected)
    if isinstance(actual, str) and isinstance(expected, str):
        if operator == "co":
            return expected in actual
        if operator == "sw":
            return actual.startswith(expected)
        if operator == "ew":
            return actual.endswith(expected)
    raise invalid_filter(f"'{operator}' is not supported here.")


def value_matches(element: Any, comparisons: list[Comparison]) -> bool:
    """Whether a multi-valued attribute's element (a dict) meets every comparison (a PATCH path's filter)."""
    if not isinstance(element, dict):
        return False
    lowered = {str(key).lower(): value for key, value in element.items()}
    return all(_matches(lowered.get(comparison.attribute), comparison) for comparison in comparisons)
