"""The WSGI environ Django sees: the request's own keys, and forwarded headers only from our proxies.

Applied in porchlight/wsgi.py, under gunicorn and Granian alike (``manage.py serve``):

- Granian builds each request's environ on a copy of the whole process environment, so
  ``DATABASE_URL``, ``PORCHLIGHT_SECRET_KEY`` and the key-encryption keys would sit in
  ``request.META``, where an error report or any page that shows META would print them. Only the
  CGI variables of the request (RFC 3875 §4.1), ``HTTP_*`` header variables and ``wsgi.*`` keys
  (PEP 3333) are kept; a header variable or optional CGI variable whose name *and* value equal a
  process environment variable's (``HTTP_PROXY`` set for outbound requests) came from the
  environment, not from the request, and is dropped too.
- ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are what a proxy says about the client's
  connection, and with ``PORCHLIGHT_BEHIND_PROXY`` Django reads them on every request
  (``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST``). They count only when the direct peer
  is one of ``PORCHLIGHT_TRUSTED_PROXIES``, as ``X-Forwarded-For`` does (ground/client_address.py):
  from any other peer they are removed. From a trusted proxy, ``X-Forwarded-Proto`` also sets
  ``wsgi.url_scheme``, so the request's scheme is the client's under either server
  (gunicorn.conf.py trusts no peer itself and leaves this to this module).

Header names with an underscore (``X_Forwarded_For``) become the same variable as the hyphenated
name, and once they are variables nobody can tell them apart. gunicorn drops such headers before
the environ is built (its ``header_map``); Granian maps them. So with
``PORCHLIGHT_PROXY_HEADERS=forwarded`` (the default under Granian) the proxy speaks RFC 7239's
``Forwarded``, whose name has no separator for an underscore to imitate, and this module:

- removes every ``HTTP_X_FORWARDED_*`` variable, whoever sent it;
- from a trusted direct peer, reads ``Forwarded`` (ground/forwarded.py), walks its elements from
  the right past trusted proxies as ``X-Forwarded-For`` is walked (ground/client_address.walk),
  and writes what it found into ``HTTP_X_FORWARDED_FOR`` (every element's address, for
  client_address to walk again to the same client), ``HTTP_X_FORWARDED_PROTO`` and
  ``HTTP_X_FORWARDED_HOST`` (the ``proto`` and ``host`` of the element the walk stopped at: the
  one written by the proxy the client connected to). This is the one place Forwarded is read:
  settings, client_address and /metrics read the X-Forwarded variables under either setting.
  ``Forwarded`` itself is then removed; from any other peer, or when it names no element, it
  stays, and /metrics lets no such request in by address (ops/metrics.py).

Under Granian, ``x-forwarded`` behind a proxy is refused (ops/checks.py), unless the operator
states that the proxy drops header names with an underscore.
"""

import functools
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ground.client_address import parse_address, walk
from ground.forwarded import parse_forwarded
from ops.checks import proxy_headers_problem

logger = logging.getLogger(__name__)
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

# RFC 3875 §4.1 and what servers commonly add (REQUEST_URI, RAW_URI, REMOTE_PORT).
# A server sets these on every request, so their value is the request's whatever the process
# environment holds.
ALWAYS_SET = frozenset(
    {
        "GATEWAY_INTERFACE",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
    }
)
OPTIONAL = frozenset(
    {
        "AUTH_TYPE",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "PATH_TRANSLATED",
        "RAW_URI",
        "REMOTE_HOST",
        "REMOTE_PORT",
        "REMOTE_USER",
        "REQUEST_URI",
    }
)
# What Django reads from a proxy (settings.py, with BEHIND_PROXY). With x-forwarded, X-Forwarded-For
# and RFC 7239's Forwarded stay: client_address judges the first by the peer, and /metrics refuses
# a request that carries a forwarded address it does not read (ops/metrics.py).
PROXY_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
X_FORWARDED = "HTTP_X_FORWARDED_"
# Set on a request that carried proxy headers this configuration does not read.
UNREAD_FORWARDING = "porchlight.unread_forwarding"


def _trusted(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    ip = parse_address(address)
    return ip is not None and any(ip in network for network in networks)


@functools.cache
def _warn_x_forwarded() -> None:
    # Once per worker: a proxy that sends X-Forwarded-* and no Forwarded makes every request look
    # like the proxy's own (throttling, audit addresses).
    logger.warning(
        "A trusted proxy sent X-Forwarded-* headers and no Forwarded header; with "
        "PORCHLIGHT_PROXY_HEADERS=forwarded they are ignored and requests count as the proxy's own. "
        "Have the proxy send Forwarded (RFC 7239): see docs/deployment.md."
    )


def _read_forwarded(environ: Environ) -> None:
    """Write a trusted proxy's ``Forwarded`` into the X-Forwarded variables (see the docstring)."""
    elements = parse_forwarded(environ.get("HTTP_FORWARDED", ""))
    remote = parse_address(environ["REMOTE_ADDR"])
    if not elements or remote is None:
        return
    # A hop that names no address (unknown, obfuscated, malformed) stops client_address's walk.
    environ["HTTP_X_FORWARDED_FOR"] = ", ".join(element.client or "unknown" for element in elements)
    _, index = walk(remote, [element.client for element in elements])
    if index is None:
        return
    # The element of the proxy the client connected to: its proto and host are the client's.
    stop = elements[index]
    if stop.proto:
        environ["HTTP_X_FORWARDED_PROTO"] = stop.proto
    if stop.host:
        environ["HTTP_X_FORWARDED_HOST"] = stop.host
    # Read. When it names no client there (for=unknown, a malformed element), it stays: the
    # request came through a proxy from someone unknown, and /metrics lets no such request in
    # by address.
    if stop.client:
        del environ["HTTP_FORWARDED"]


class RequestEnviron:
    """Call ``app`` with the request's keys only, forwarded headers judged by the direct peer."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        # Granian copies the process environment when its worker starts; so does this.
        self.process = dict(os.environ)
        # A server started without `manage.py serve` (which refuses too) must not serve either.
        if problem := proxy_headers_problem():
            raise ImproperlyConfigured(problem)

    def environ(self, environ: Environ) -> Environ:
        """Return the part of ``environ`` that describes the request."""
        process = self.process
        kept: Environ = {}
        for key, value in environ.items():
            request_set = key in ALWAYS_SET or key.startswith("wsgi.")
            if request_set or ((key.startswith("HTTP_") or key in OPTIONAL) and process.get(key) != value):
                kept[key] = value
        if not settings.PORCHLIGHT["BEHIND_PROXY"]:
            return kept
        trusted = _trusted(kept.get("REMOTE_ADDR", ""), settings.PORCHLIGHT["TRUSTED_PROXIES"])
        if settings.PORCHLIGHT["PROXY_HEADERS"] == "forwarded":
            removed = [key for key in kept if key.startswith(X_FORWARDED)]
            for key in removed:
                del kept[key]
            if trusted:
                if "HTTP_FORWARDED" not in kept and removed:
                    _warn_x_forwarded()
                _read_forwarded(kept)
            if removed:
                # Someone said who the client is in a way not read here: the address this request
                # is judged on may be a proxy's, so nothing is let in by it (ops/metrics.py).
                kept[UNREAD_FORWARDING] = True
        if not trusted:
            for key in PROXY_HEADERS:
                kept.pop(key, None)
        elif proto := kept.get("HTTP_X_FORWARDED_PROTO"):
            # As Django reads SECURE_PROXY_SSL_HEADER: the first value.
            scheme = proto.split(",", 1)[0].strip().lower()
            if scheme in ("http", "https"):
                kept["wsgi.url_scheme"] = scheme
        return kept

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(self.environ(environ), start_response)
