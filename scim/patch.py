"""PATCH (RFC 7644 §3.5.2): add, replace and remove operations applied to a resource.

The operations are applied to the resource as SCIM shows it (names lower-cased, RFC 7643 §2.1),
and the result is then written like a PUT: one path from JSON to the account, whatever the verb.
Paths take the forms Microsoft Entra and Okta send: ``active``, ``name.givenName``,
``emails[type eq "work"].value``, ``members[value eq "42"]``, a path-less ``replace`` whose
value holds the attributes (``{"active": false}``), and ``remove`` of ``members`` with a value
listing the members to remove. Attributes of schema extensions Porchlight does not keep
(``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``) are accepted and
left aside, as they are in a POST or PUT.
"""

import json
import re
from typing import Any

from .errors import invalid_path, invalid_syntax, invalid_value, no_target
from .filters import Comparison, attribute_name, filter_parse, value_matches
from .resources import lowered

PATH = re.compile(r"^(?P<attr>[a-z$][\w$-]*)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[a-z$][\w$-]*))?$", re.DOTALL)
# RFC 7643 §3.1, §4.1.2: set by the service provider, never by a client; a PATCH naming them
# (Okta's group replace sends the id back) changes nothing.
READ_ONLY = {"id", "meta", "schemas", "groups"}
MAX_OPERATIONS = 1000


def _elements(data: dict[str, Any], attr: str) -> list[Any]:
    current = data.get(attr)
    if current is None:
        return []
    if isinstance(current, dict):
        return [current]
    if not isinstance(current, list):
        raise invalid_path(f"{attr} is not multi-valued.")
    return current


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _key(element: Any) -> str:
    # A value is the same value when its "value" is (members, emails), or, for a value without
    # one (an address), when all of it is.
    if isinstance(element, dict) and "value" in element:
        return str(element["value"])
    return json.dumps(element, sort_keys=True, default=str)


def _new_element(comparisons: list[Comparison]) -> dict[str, Any]:
    # replace emails[type eq "work"].value on an account with no work address adds one: what the
    # client asked for is then true, as Entra and Okta expect.
    return {c.attribute: c.value for c in comparisons if c.operator == "eq"}


def _apply(data: dict[str, Any], op: str, path: str, value: Any, multi_valued: set[str]) -> None:
    if path.lower().startswith("urn:") and attribute_name(path) == path.lower():
        return  # An extension schema's attribute: not kept here.
    match = PATH.match(attribute_name(path))
    if match is None:
        raise invalid_path(f"{path[:80]!r} is not an attribute path.")
    attr, filter_text, sub = match.group("attr"), match.group("filter"), match.group("sub")
    if attr in READ_ONLY:
        return
    if filter_text is None and sub is None:
        if op == "remove":
            if value is not None and attr in multi_valued:
                # Entra removes members by listing them as the value.
                gone = {_key(element) for element in _as_list(lowered(value))}
                data[attr] = [element for element in _elements(data, attr) if _key(element) not in gone]
            else:
                data.pop(attr, None)
        elif op == "add" and attr in multi_valued:
            present = {_key(element) for element in _elements(data, attr)}
            added = [element for element in _as_list(value) if _key(element) not in present]
            data[attr] = _elements(data, attr) + added
        else:
            data[attr] = _as_list(value) if attr in multi_valued else value
        return
    if filter_text is None:
        # attr.sub: a sub-attribute of a complex attribute (name.givenName), or of every value.
        target = data.get(attr)
        if isinstance(target, list):
            for element in target:
                if isinstance(element, dict):
                    if op == "remove":
                        element.pop(sub, None)
                    else:
                        element[sub] = value
            if not target and op != "remove":
                data[attr] = [{sub: value}]
            return
        if target is None or not isinstance(target, dict):
            if op == "remove":
                return
            target = data[attr] = {}
        if op == "remove":
            target.pop(sub, None)
        else:
            target[sub] = value
        return
    comparisons = filter_parse(filter_text)
    elements = _elements(data, attr)
    matching = [element for element in elements if value_matches(element, comparisons)]
    if op == "remove":
        if sub is None:
            data[attr] = [element for element in elements if element not in matching]
        else:
            for element in matching:
                element.pop(sub, None)
        return
    if not matching:
        if op == "replace" and sub is None:
            raise no_target(f"No value of {attr} matches {filter_text[:80]!r}.")
        element = _new_element(comparisons)
        if sub is None:
            if not isinstance(value, dict):
                raise invalid_value(f"A value of {attr} is an object.")
            element.update(value)
        else:
            element[sub] = value
        data[attr] = [*elements, element]
        return
    for element in matching:
        if sub is not None:
            element[sub] = value
        elif isinstance(value, dict):
            element.update(value)
        else:
            raise invalid_value(f"A value of {attr} is an object.")


def patch_apply(resource: dict[str, Any], body: Any, *, multi_valued: set[str]) -> dict[str, Any]:
    """Return ``resource`` (lower-cased) with the PatchOp request ``body``'s operations applied."""
    if not isinstance(body, dict):
        raise invalid_syntax("A PATCH body is a PatchOp object.")
    operations = lowered(body).get("operations")
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("A PATCH body has a non-empty Operations list.")
    if len(operations) > MAX_OPERATIONS:
        raise invalid_syntax(f"At most {MAX_OPERATIONS} operations per request.")
    data: dict[str, Any] = lowered(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid_syntax("Each operation is an object.")
        # Microsoft Entra sends "Add", "Replace", "Remove".
        op = operation.get("op")
        op = op.lower() if isinstance(op, str) else ""
        if op not in ("add", "replace", "remove"):
            raise invalid_syntax("Each operation's op is add, replace or remove.")
        path = operation.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise invalid_path("path is a string.")
        value = lowered(operation.get("value"))
        if path is None:
            if op == "remove":
                # RFC 7644 §3.5.2.2: remove needs a path.
                raise no_target("A remove operation names a path.")
            if not isinstance(value, dict):
                raise invalid_value("An operation without a path has an object as its value.")
            for key, item in value.items():
                _apply(data, op, key, item, multi_valued)
        else:
            if op != "remove" and "value" not in operation:
                raise invalid_value(f"The {op} operation has no value.")
            _apply(data, op, path.strip(), value, multi_valued)
    return data
