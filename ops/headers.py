"""Security headers: Permissions-Policy, which Django's SecurityMiddleware does not set, and CSP.

Every response gets the same few headers, which Django's middleware checks and encodes anew for
each (``ResponseHeaders.__setitem__``: two conversions per header) behind a ``MiddlewareMixin``
layer each. Here each header is checked and encoded once per process, as Django would, and
added to a response that does not have it yet (``headers_default``); ``SecurityMiddleware`` and
``FrameOptionsMiddleware`` are Django's with that change, and all four are plain callables
(docs/performance.md, "What keeps the protocol endpoints cheap"). ``CommonMiddleware`` is
Django's too, as a plain call, for the same chain. ``tests/ops/test_headers.py`` compares their
headers with those Django's and django-csp's own middleware give.
"""

from collections.abc import Callable, Mapping
from typing import cast

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.response import ResponseHeaders
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware

# What a view or decorator sets on a response to give it a policy of its own (django-csp 4).
PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)

_POLICY_NAMES = frozenset(PER_RESPONSE_POLICY)

# Headers as Django's ResponseHeaders keeps them: (lower-cased name, (name, value)).
Fixed = tuple[tuple[str, tuple[str, str]], ...]


def fixed_headers(headers: Mapping[str, str]) -> Fixed:
    """Return ``headers`` checked and encoded once, as setting them on a response would."""
    # ResponseHeaders raises for a newline in a value and encodes non-latin-1 values (RFC 2047).
    return tuple(ResponseHeaders(dict(headers))._store.items())  # type: ignore[attr-defined]


def headers_default(response: HttpResponseBase, fixed: Fixed) -> None:
    """Add each of ``fixed`` that ``response`` lacks: ``response.headers.setdefault`` for each."""
    store: dict[str, tuple[str, str]] = response.headers._store  # type: ignore[attr-defined]
    for lower, pair in fixed:
        if lower not in store:
            store[lower] = pair


class PlainCall:
    """``MiddlewareMixin``'s steps (``process_request``, the view, ``process_response``) as a plain
    call, without its layer per request (synchronous only: ``async_capable`` is False)."""

    async_capable = False

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) or cast(HttpResponseBase, self.get_response(request))  # type: ignore[attr-defined]
        return self.process_response(request, response)  # type: ignore[attr-defined]


class _Probe:
    """Stands for a request where Django's SecurityMiddleware asks whether it is secure."""

    def __init__(self, secure: bool) -> None:
        self.secure = secure

    def is_secure(self) -> bool:
        return self.secure


class SecurityMiddleware(PlainCall, DjangoSecurityMiddleware):
    """Django's SecurityMiddleware: the same redirect, with its headers encoded once.

    Its response headers depend only on whether the request is secure (HSTS on secure requests),
    so they are taken once, for each, from Django's own ``process_response`` on a blank response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        self.plain_headers = self._added(secure=False)
        # None: the same as on a plain request (no HSTS configured), so is_secure() is not asked.
        secure = self._added(secure=True)
        self.secure_headers = secure if secure != self.plain_headers else None

    def _added(self, *, secure: bool) -> Fixed:
        blank = HttpResponse()
        before = set(blank.headers)
        added = super().process_response(_Probe(secure), blank)  # type: ignore[arg-type]
        return fixed_headers({name: value for name, value in added.headers.items() if name not in before})

    # django-stubs narrows Django's to HttpResponse; any response passes through here.
    def process_response(  # type: ignore[override]
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        secure = self.secure_headers
        fixed = secure if secure is not None and request.is_secure() else self.plain_headers
        headers_default(response, fixed)
        return response


class FrameOptionsMiddleware(XFrameOptionsMiddleware):
    """Django's XFrameOptionsMiddleware, with its one header encoded once."""

    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        self.fixed = fixed_headers({"X-Frame-Options": getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()})

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = cast(HttpResponseBase, self.get_response(request))
        # As Django: not for a response that set its own, nor one exempted (xframe_options_exempt).
        if not getattr(response, "xframe_options_exempt", False):
            headers_default(response, self.fixed)
        return response


class PermissionsPolicyMiddleware:
    """Deny browser features no Porchlight page uses; passkeys stay allowed on our own origin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        value = ", ".join(f"{feature}={allow}" for feature, allow in settings.PERMISSIONS_POLICY.items())
        self.fixed = fixed_headers({"Permissions-Policy": value})

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        headers_default(response, self.fixed)
        return response


class CSPMiddleware(DjangoCSPMiddleware):
    """django-csp's middleware, with the settings' policy built once instead of twice per response.

    A response without a nonce or a policy of its own, every protocol response among them, gets
    the settings' policy, the same every time; django-csp would build it (and the report-only
    one) anew for each (docs/performance.md, "What keeps the protocol endpoints cheap"). Any
    other response goes through django-csp as before.
    """

    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        policies = (
            getattr(settings, "CONTENT_SECURITY_POLICY", None) or {},
            getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {},
        )
        # Excluded path prefixes make the header depend on the path: leave those to django-csp.
        self.fixed = not any(policy.get("EXCLUDE_URL_PREFIXES") for policy in policies)
        built = {HEADER: build_policy(), HEADER_REPORT_ONLY: build_policy(report_only=True)}
        self.policy_headers = fixed_headers({name: value for name, value in built.items() if value})
        self._declared: dict[type, bool] = {}

    def _own_policy(self, response: HttpResponseBase) -> bool:
        """``any(hasattr(response, name) for name in PER_RESPONSE_POLICY)``, without eight lookups."""
        # django-csp's decorators set the attributes on the response; a response class could
        # declare one itself, which is judged once per class.
        if not _POLICY_NAMES.isdisjoint(vars(response)):
            return True
        cls = type(response)
        declared = self._declared.get(cls)
        if declared is None:
            declared = self._declared[cls] = any(hasattr(cls, name) for name in PER_RESPONSE_POLICY)
        return declared

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # MiddlewareMixin's steps, as a plain call: django-csp's process_request (the lazy nonce).
        self.process_request(request)  # django-csp's returns nothing
        return self.process_response(request, cast(HttpResponseBase, self.get_response(request)))

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            not self.fixed
            or getattr(request, "_csp_nonce", None) is not None
            or self._own_policy(response)
            # django-csp leaves Django's debug pages alone.
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        headers_default(response, self.policy_headers)
        # As django-csp: a nonce asked for after the header was written could not be in it.
        # (An attribute django-csp adds to the request; HttpRequest does not declare it.)
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


class CommonMiddleware(PlainCall, DjangoCommonMiddleware):
    """Django's CommonMiddleware as a plain call, its Content-Length stored without conversion.

    The same refusals (``DISALLOWED_USER_AGENTS``, a Host not in ``ALLOWED_HOSTS``), redirects
    (``PREPEND_WWW``, ``APPEND_SLASH`` on a 404) and ``Content-Length``; only without
    ``MiddlewareMixin``'s layer (synchronous: ``async_capable`` is False).
    """

    # django-stubs narrows Django's to HttpResponse; any response passes through here.
    def process_response(  # type: ignore[override]
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if response.status_code == 404 or response.streaming:
            return super().process_response(request, response)  # type: ignore[arg-type]
        store: dict[str, tuple[str, str]] = response.headers._store  # type: ignore[attr-defined]
        if "content-length" not in store:
            # What ``response.headers["Content-Length"] = str(len(content))`` stores: digits need
            # no conversion.
            store["content-length"] = ("Content-Length", str(len(response.content)))  # type: ignore[attr-defined]
        return response
