"""RFC 7239's ``Forwarded`` header, read into its elements: one per proxy, left to right.

A proxy appends one element describing the request it received: ``for`` (who sent it), ``proto``
and ``host`` (RFC 7239 §5). Elements are separated by commas, their pairs by semicolons, and a
value is a token or a quoted-string (RFC 7239 §4, RFC 7230 §3.2.6)::

    Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"

Only a proxy's own element is to be believed; which ones are is decided by the caller, walking
from the right past trusted proxies (ground/client_address.py). So one malformed element does not
spoil the others: it is read as an element that names nobody, which stops that walk. A quote left
open swallows the rest of the header into one malformed element. Like the rest of ``ground``,
this module imports no app.
"""

import re
from dataclasses import dataclass

from ground.client_address import parse_address

# RFC 7230 §3.2.6: token = 1*tchar; quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_PAIR = re.compile(rf"[ \t]*({_TOKEN})=({_TOKEN}|{_QUOTED})[ \t]*")
# An element runs to the next comma outside a quoted-string (or to the end).
_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*(?:"|$))*')
_QUOTED_PAIR = re.compile(r"\\(.)")
# RFC 7239 §6: node = nodename [ ":" node-port ]; an IPv6 nodename is in brackets.
_NODE_V6 = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(?:[0-9]{1,5}|_[0-9A-Za-z._-]+))?")
_NODE_V4 = re.compile(r"([0-9.]+)(?::(?:[0-9]{1,5}|_[0-9A-Za-z._-]+))?")
# RFC 7230 §5.4 / RFC 3986 §3.2.2: what a Host header may hold (reg-name or IP literal, port).
_HOST = re.compile(r"(?:[0-9A-Za-z._~!$&'()*+;=-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
# The parameters this module reads (RFC 7239 §5); others (``by``, extensions) are skipped.
_READ = ("for", "proto", "host")


@dataclass(frozen=True)
class Element:
    """One proxy's element: the address it received from (``for``), the scheme and host asked for."""

    client: str = ""
    proto: str = ""
    host: str = ""


# A malformed element: it names no client, so a walk over the elements stops there.
MALFORMED = Element()


def node_address(node: str) -> str:
    """Return the IP address in an RFC 7239 §6 node (port and brackets left off), or ''.

    ``unknown`` and obfuscated identifiers (``_hidden``) name no address. A quoted address with
    no brackets (``"2001:db8::1"``, as a proxy writing its peer's address verbatim sends) is
    taken as it stands.
    """
    candidates = [node]
    if match := _NODE_V6.fullmatch(node) or _NODE_V4.fullmatch(node):
        candidates.append(match[1])
    for candidate in candidates:
        ip = parse_address(candidate) if candidate.strip() == candidate else None
        if ip is not None:
            return str(ip)
    return ""


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return _QUOTED_PAIR.sub(r"\1", value[1:-1])
    return value


def _element(text: str) -> Element:
    values: dict[str, str] = {}
    for part in _pairs(text):
        # RFC 7239 §4: a pair may be empty (``for=192.0.2.43;``).
        if not part.strip():
            continue
        match = _PAIR.fullmatch(part)
        if not match:
            return MALFORMED
        name = match[1].lower()
        # RFC 7239 §4: each parameter MUST NOT occur more than once per element.
        if name in values:
            return MALFORMED
        values[name] = _unquote(match[2])
    proto = values.get("proto", "").lower()
    host = values.get("host", "")
    return Element(
        client=node_address(values["for"]) if "for" in values else "",
        # RFC 7239 §5.4: a URI scheme; only http and https mean anything here.
        proto=proto if proto in ("http", "https") else "",
        host=host if _HOST.fullmatch(host) else "",
    )


def _pairs(text: str) -> list[str]:
    """Split ``text`` at semicolons outside quoted-strings."""
    parts, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def parse_forwarded(value: str) -> list[Element]:
    """Return the elements of a ``Forwarded`` header value, left to right (RFC 7239 §4)."""
    elements = []
    position = 0
    while position <= len(value):
        match = _ELEMENT.match(value, position)
        text = match[0] if match else ""
        position += len(text) + 1
        # RFC 7230 §7: empty list elements (``a, , b``) do not count.
        if text.strip():
            elements.append(_element(text))
    return elements
