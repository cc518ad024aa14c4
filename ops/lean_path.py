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
"""

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import ResolverMatch
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


class ProtocolPathMiddleware:
    """Send protocol paths down the lean chain; everything else continues down ``MIDDLEWARE``."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = frozenset(reverse(name) for name in PROTOCOL_URL_NAMES)
        self.protocol = ProtocolHandler()
        self.protocol.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info in self.paths:
            # The chain itself: the handler this middleware runs in has set the URLconf, and will
            # add the request's closing and log an error response, as get_response would again.
            # (A synchronous chain: load_middleware builds only that.)
            return cast(HttpResponseBase, self.protocol._middleware_chain(request))
        return self.get_response(request)
