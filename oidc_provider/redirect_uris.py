"""The rule every redirect and post-logout redirect URI obeys, wherever a client is made.

``Client.clean()`` applies it, so the admin, ``createclient``, ``client_create`` and dynamic
registration all refuse the same URIs with the same words.
"""

import ipaddress
import re
from urllib.parse import urlsplit

MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# RFC 8252 §7.1: a private-use scheme is a reverse domain name the app's publisher controls
# (com.example.app); RFC 3986 §3.1 scheme characters, labels of letters, digits and hyphens.
PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+")
# Schemes a browser or OS handles itself, never an app's: javascript: and data: run script,
# the others open files, mail or other programs. None contains a dot, but they are named.
DANGEROUS_SCHEMES = {"http", "https", "javascript", "data", "file", "vbscript", "about", "blob", "filesystem"}


def private_use_scheme(uri: str) -> str | None:
    """Return ``uri``'s scheme when it is an RFC 8252 §7.1 private-use (reverse-domain) scheme."""
    scheme, colon, _ = uri.partition(":")
    scheme = scheme.lower()
    if not colon or scheme in DANGEROUS_SCHEMES or not PRIVATE_USE_SCHEME.fullmatch(scheme):
        return None
    return scheme


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names the loopback interface."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str, *, native: bool | None = None) -> str | None:
    """Return why ``uri`` cannot be a redirect URI, or None when it can.

    ``native``: whether a private-use scheme (``com.example.app:/callback``) is allowed — True
    for a public client, False for a confidential one (which is told why), None where no such
    scheme belongs (logout URIs the server or a browser frame calls).
    """
    shown = repr(uri[:100])
    if len(uri) > MAX_URI_LENGTH:
        return f"{shown}… is longer than {MAX_URI_LENGTH} characters."
    if any(char.isspace() or ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF for char in uri):
        return f"{shown} is not a valid URI."
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{shown} is not a valid URI."
    if native is not None and private_use_scheme(uri):
        if parts.fragment or "#" in uri:
            return f"{shown} must not contain a fragment (#…) (RFC 6749 §3.1.2)."
        if not native:
            # RFC 8252 §8.4: any app can claim a private-use scheme, so only a client that proves
            # the code is its own with PKCE and keeps no secret may use one.
            return (
                f"{shown}: private-use scheme redirect URIs are for native apps, which cannot keep "
                "a secret; register the app as public (it then uses PKCE) (RFC 8252 §7.1, §8.4)."
            )
        return None
    # RFC 6749 §3.1.2: absolute, no fragment. Only http(s): javascript:, data: and custom
    # schemes would hand the code to whatever answers them; native apps name their own
    # reverse-domain scheme (RFC 8252 §7.1).
    if parts.scheme not in {"http", "https"} or not host:
        return f"{shown} must be an absolute http:// or https:// address."
    if parts.fragment or "#" in uri:
        return f"{shown} must not contain a fragment (#…) (RFC 6749 §3.1.2)."
    # RFC 9700 §2.1, RFC 8252 §8.3: plain http only to the loopback interface.
    if parts.scheme == "http" and not is_loopback(host):
        return f"{shown} must use https (http only for localhost or 127.0.0.1)."
    return None


def origin_problem(origin: str, *, public: bool) -> str | None:
    """Return why ``origin`` cannot be a client's browser origin, or None when it can.

    An origin is a scheme, host and optional port (RFC 6454 §4), nothing else. https, or plain
    http on the loopback interface for an app that keeps no secret, served from a developer's or
    user's own computer: the same loopback exception redirect URIs have (RFC 8252 §8.3).
    """
    shown = repr(origin[:100])
    try:
        parts = urlsplit(origin)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{shown} is not a valid origin."
    if parts.scheme not in {"http", "https"} or not host or parts.username is not None:
        return f"{shown} must be an origin such as https://app.example.com."
    if parts.path not in {"", "/"} or parts.query or parts.fragment or "#" in origin or "?" in origin:
        return f"{shown} must be an origin only: scheme, host and port, no path (RFC 6454 §4)."
    if parts.scheme == "http":
        if not is_loopback(host):
            return f"{shown} must use https (http only for localhost, 127.0.0.1 or [::1])."
        if not public:
            return (
                f"{shown}: plain http origins are only for apps that cannot keep a secret (public "
                "clients) on the user's own computer; a confidential app's origin must use https."
            )
    return None
