"""The lean path: protocol endpoints served without the middleware only browsers need.

Token, UserInfo, introspection, revocation, device authorization, JWKS and discovery are called
by relying parties and resource servers with client credentials or bearer tokens, never with a
session cookie: sessions, CSRF, authentication, OTP, last-seen and messages do nothing for them
but cost CPU on every request (DESIGN: "Protocol endpoints run lean").

``ProtocolPathMiddleware`` is the first entry of ``settings.MIDDLEWARE``. For a protocol path it
hands the request to a second handler whose chain is ``settings.PROTOCOL_MIDDLEWARE``: every
entry of ``MIDDLEWARE`` except ``BROWSER_MIDDLEWARE`` (Django's security and frame headers from
their equivalents in ``ops/headers.py``, ``PROTOCOL_EQUIVALENTS``). So cheap middleware that every response
needs (request ids, metrics, security headers, the malformed-input guard) is added to
``MIDDLEWARE`` as usual and runs on both paths; only middleware that needs a session or a
signed-in user goes into ``BROWSER_MIDDLEWARE`` as well. Being a middleware rather than a WSGI
wrapper, the lean path is what Django's test client exercises too, so every protocol test runs it.

Under a server, ``LeanWSGIHandler`` (porchlight/wsgi.py's handler) sends a protocol path to the
same chain before Django's main handler is entered: it does for the request what
``WSGIHandler.__call__`` and ``BaseHandler.get_response`` do (script prefix, URLconf, the
request's closing, logging an error response, the WSGI answer), without the main chain's
outermost layers. And while only Django's own receivers listen to ``request_started`` and
``request_finished``, it does their work itself (``RequestSignals``), for the one configured
database instead of through every signal and connection lookup; anything else connected (a
test's receiver, runserver's autoreloader) gets the signals sent as Django sends them.
"""

import functools
import weakref
from collections.abc import Callable, Iterable
from typing import Any, cast

from django.conf import settings
from django.core.cache import caches, close_caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler, reset_urlconf
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, get_script_name
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal

# _make_id: how Django's Signal keys a receiver's sender; absent from django-stubs.
from django.dispatch.dispatcher import _make_id  # type: ignore[attr-defined]
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver, get_script_prefix, reverse, set_script_prefix, set_urlconf
from django.urls.resolvers import ResolverMatch
from django.utils.log import log_response
from django.utils.module_loading import import_string

# The URL names of the endpoints that take no session; the paths come from the URLconf.
PROTOCOL_URL_NAMES = (
    "openid-configuration",
    "oauth-authorization-server",
    "oidc_provider:jwks",
    "oidc_provider:token",
    "oidc_provider:userinfo",
    "oidc_provider:introspect",
    "oidc_provider:revoke",
    "oidc_provider:device-authorization",
)


class ProtocolHandler(BaseHandler):
    """A request handler whose middleware chain is ``settings.PROTOCOL_MIDDLEWARE``.

    The protocol paths take no arguments, so each resolves to the same view every time: it is
    resolved once per path (and URLconf) and process, not through every URL pattern per request.
    """

    def __init__(self) -> None:
        super().__init__()
        self._resolver: URLResolver | None = None
        self._matches: dict[str, ResolverMatch] = {}

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):
            # A middleware chose another URLconf for this request: resolved as Django does.
            return super().resolve_request(request)
        resolver = get_resolver()
        if resolver is not self._resolver:
            # The URLconf changed (a test's override_settings clears Django's cache too).
            self._resolver, self._matches = resolver, {}
        match = self._matches.get(request.path_info)
        if match is None:
            match = self._matches[request.path_info] = resolver.resolve(request.path_info)
        request.resolver_match = match
        return match

    def load_middleware(self, is_async: bool = False) -> None:
        """Build the chain as Django's ``BaseHandler`` does, synchronous middleware only."""
        self._view_middleware: list[Callable[..., HttpResponseBase | None]] = []
        self._template_response_middleware: list[Callable[..., HttpResponseBase]] = []
        self._exception_middleware: list[Callable[..., HttpResponseBase | None]] = []
        # BaseHandler._get_response: Django's own, which django-stubs leaves out as private.
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(settings.PROTOCOL_MIDDLEWARE):
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


def protocol_paths() -> frozenset[str]:
    """Return the paths of the protocol endpoints (as ``request.path_info`` spells them)."""
    return frozenset(reverse(name) for name in PROTOCOL_URL_NAMES)


class ProtocolPathMiddleware:
    """Send protocol paths down the lean chain; everything else continues down ``MIDDLEWARE``."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = protocol_paths()
        self.protocol = ProtocolHandler()
        self.protocol.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info in self.paths:
            # The chain itself: the handler this middleware runs in has set the URLconf, and will
            # add the request's closing and log an error response, as get_response would again.
            # (A synchronous chain: load_middleware builds only that.)
            return cast(HttpResponseBase, self.protocol._middleware_chain(request))
        return self.get_response(request)


class _OnlyDjangos:
    """Say whether ``signal``'s receivers are exactly ``receivers``, connected for any sender."""

    def __init__(self, signal: Signal, receivers: Iterable[Callable[..., Any]]) -> None:
        self.signal = signal
        self.expected = frozenset(receivers)
        # The receivers list last judged (a copy) and the verdict, as one pair: several threads
        # (Granian's blocking threads) may judge at once, and each reads a consistent pair.
        self.judged: tuple[list[Any] | None, bool] = (None, False)

    def __call__(self) -> bool:
        receivers = self.signal.receivers
        seen, verdict = self.judged
        if receivers != seen:
            # Connected or disconnected since: judged again (comparing the lists is cheap while
            # nothing changed: the same entries, compared by identity first).
            seen = list(receivers)
            verdict = self._judge(seen)
            self.judged = (seen, verdict)
        return verdict

    def _judge(self, receivers: list[Any]) -> bool:
        anyone = _make_id(None)
        targets = []
        for (_, sender), receiver, _ in receivers:
            if sender != anyone:
                return False
            # Weakly connected receivers (Django's are) are kept as weak references.
            targets.append(receiver() if isinstance(receiver, weakref.ref) else receiver)
        return len(targets) == len(self.expected) and set(targets) == self.expected


class RequestSignals:
    """``request_started`` and ``request_finished``, by hand while only Django listens.

    Django connects ``reset_queries`` and ``close_old_connections`` to the first, and
    ``close_old_connections``, ``close_caches`` and ``reset_urlconf`` to the second. Sending them
    costs more than their work: each send resolves every receiver's weak reference, and each
    receiver looks every configured connection (or cache) up twice in an asgiref ``Local``.
    Here the same work is done for each connection this thread has opened, looked up once; the
    caches are closed unless every configured backend's ``close`` is ``BaseCache``'s, which does
    nothing (the local-memory cache). A kept connection is still checked and closed exactly when
    Django would (``close_if_unusable_or_obsolete``: errors, ``CONN_MAX_AGE``, the health check).
    """

    def __init__(self) -> None:
        self.started_djangos = _OnlyDjangos(request_started, (reset_queries, close_old_connections))
        self.finished_djangos = _OnlyDjangos(
            request_finished, (close_old_connections, close_caches, reset_urlconf)
        )
        self._caches: tuple[Any, bool] = (None, False)

    def started(self, sender: type, environ: dict[str, Any]) -> None:
        if not self.started_djangos():
            request_started.send(sender=sender, environ=environ)
            return
        for connection in _opened_connections():
            connection.queries_log.clear()  # reset_queries
            connection.close_if_unusable_or_obsolete()  # close_old_connections

    def finished(self, sender: type) -> None:
        if not self.finished_djangos():
            request_finished.send(sender=sender)
            return
        for connection in _opened_connections():
            connection.close_if_unusable_or_obsolete()  # close_old_connections
        if not self._caches_close_nothing():
            caches.close_all()  # close_caches
        set_urlconf(None)  # reset_urlconf

    def close(self, response: HttpResponseBase) -> None:
        """Close ``response`` as ``HttpResponseBase.close`` does, ending with ``finished``."""
        # The handler set this method on the response: dropped, the response no longer refers to
        # itself, and is freed once the server lets it go rather than by the cycle collector.
        # (Closed again, it closes as Django's own does.)
        vars(response).pop("close", None)
        # HttpResponseBase's own attributes, which django-stubs leaves out as private.
        closers = response._resource_closers  # type: ignore[attr-defined]
        for closer in closers:
            try:  # noqa: SIM105 - as Django: every closer runs, whatever one raises
                closer()
            except Exception:  # noqa: BLE001, S110
                pass
        closers.clear()
        response.closed = True  # type: ignore[attr-defined]
        self.finished(response._handler_class)  # type: ignore[attr-defined]

    def _caches_close_nothing(self) -> bool:
        configured = settings.CACHES
        judged = self._caches
        if judged[0] is not configured:
            nothing = all(
                import_string(cache["BACKEND"]).close is BaseCache.close for cache in configured.values()
            )
            judged = self._caches = (configured, nothing)
        return judged[1]


def _opened_connections() -> list[Any]:
    """``connections.all(initialized_only=True)``, each looked up once instead of twice."""
    # ConnectionHandler keeps this thread's (or task's) connections in an asgiref Local.
    opened = connections._connections  # type: ignore[attr-defined]
    found = []
    for alias in connections.settings:
        connection = getattr(opened, alias, None)
        if connection is not None:
            found.append(connection)
    return found


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler, sending protocol paths straight down the lean chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self.protocol_paths = protocol_paths()
        self.protocol = ProtocolHandler()
        self.protocol.load_middleware()
        self.signals = RequestSignals()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # PATH_INFO is what request.path_info decodes: for these ASCII paths, the same string.
        if environ.get("PATH_INFO") not in self.protocol_paths:
            return super().__call__(environ, start_response)
        # WSGIHandler.__call__, with BaseHandler.get_response's steps around the lean chain
        # instead of the main chain's (whose first middleware would hand over to it).
        prefix = get_script_name(environ)
        if not prefix.endswith("/"):
            prefix += "/"  # as set_script_prefix
        if prefix != get_script_prefix():
            # The same value, kept in an asgiref Local, is not written again (a write copies the
            # Local's storage): get_script_prefix(), its one reader, returns the same either way.
            set_script_prefix(prefix)
        signals = self.signals
        signals.started(self.__class__, environ)
        request = self.request_class(environ)
        set_urlconf(settings.ROOT_URLCONF)
        response = cast(HttpResponseBase, self.protocol._middleware_chain(request))
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,  # type: ignore[arg-type]  # any response, as Django logs it
                request=request,
            )
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        # The server closes the response (PEP 3333): request_finished as above.
        response.close = functools.partial(signals.close, response)  # type: ignore[method-assign]
        status = "%d %s" % (response.status_code, response.reason_phrase)  # noqa: UP031 - as Django
        response_headers = [
            # response.items(): the pairs ResponseHeaders keeps, without its Mapping iteration.
            *response.headers._store.values(),  # type: ignore[attr-defined]
            *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()),
        ]
        start_response(status, response_headers)
        if getattr(response, "file_to_stream", None) is not None and environ.get("wsgi.file_wrapper"):
            # As Django: the server closes the file wrapper, which closes the response.
            file_to_stream = response.file_to_stream  # type: ignore[attr-defined]
            file_to_stream.close = response.close
            return environ["wsgi.file_wrapper"](file_to_stream, response.block_size)  # type: ignore[attr-defined]
        return response
