"""The published documents answered in front of Django, from bytes this process already holds.

Discovery (``/.well-known/openid-configuration``, with or without the trailing slash), RFC 8414's
``/.well-known/oauth-authorization-server`` and the JWKS (``/o/jwks/``) change only when the key
set, the claim catalogue or the enabled response types do, yet every relying party and resource
server fetches them. Django's request cycle (handler, URL resolution, signals, the lean path's
middleware) cost several times what serving the bytes does (docs/performance.md), so
``PublishedDocuments`` wraps Django's WSGI handler (porchlight/wsgi.py), the way WhiteNoise
serves static files.

It answers nothing by itself. The first GET of a document, and the first after the answer went
stale, goes through Django as before; the view marks its response with how long this process would
answer the same (``Freshness``: until its key set is reloaded, the
``PORCHLIGHT_METADATA_CACHE_SECONDS`` bound, or dropped by a rotation here, and for discovery at
most a second, for the catalogue and response types), and the status, headers and body Django sent
are kept for that long. Until then the same request gets the same bytes: a 200, or a 304 when its
If-None-Match names the ETag (RFC 9110 §13.1.2), and HEAD the headers of the GET without the body
(RFC 9110 §9.3.2). What differs per request is made as the middleware makes it: ``X-Request-ID``
(the proxy's when acceptable, else a new one; ops/request_log.py), and the request is counted and
timed in the Prometheus metrics under the view's name (ops/metrics.py).

Only plain requests take this path: GET or HEAD, no query string, no body and no Content-Type.
Answers are kept per Host and scheme as the request presents them (security headers such as HSTS
depend on the scheme; a Host Django refuses gets its 400 from Django, never kept), and only 200 and
304 answers without ``Set-Cookie`` or ``Vary``. Anything else, other methods included (OPTIONS,
POST's 405), goes to Django as before.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import resolve, reverse

from oidc_provider.keys import KeySet, key_set_held
from oidc_provider.views.cacheable import FRESHNESS, Freshness

from .metrics import LATENCY, REQUESTS
from .request_log import ACCEPTABLE_ID, HEADER, new_request_id

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The URL names of the documents, and the discovery path with a trailing slash (unnamed).
DOCUMENT_URL_NAMES = ("openid-configuration", "oauth-authorization-server", "oidc_provider:jwks")
# Distinct (path, Host, scheme) answers kept; beyond that, requests go to Django as before.
MAX_ENTRIES = 64
REQUEST_ID_HEADER = HEADER.lower()


@dataclass(frozen=True)
class _Entry:
    status: str
    headers: tuple[tuple[str, str], ...]  # without X-Request-ID
    body: bytes
    etag: str
    fresh_until: float
    key_set: KeySet
    # The metrics children for this answer's view name and status (ops/metrics.py).
    count: Any
    timing: Any


class PublishedDocuments:
    """Answer the published documents from kept bytes; pass everything else to ``application``."""

    def __init__(self, application: WSGIApp) -> None:
        self.application = application
        self._paths: dict[str, str] | None = None  # path -> view name (the metrics label)
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._variant_keys: tuple[str, ...] = ()

    def _setup(self) -> dict[str, str]:
        paths = [reverse(name) for name in DOCUMENT_URL_NAMES]
        paths.append(reverse("openid-configuration") + "/")
        # What Django reads to decide the Host and the scheme (HttpRequest.get_host, is_secure).
        keys = ["HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme"]
        if settings.USE_X_FORWARDED_HOST:
            keys.append("HTTP_X_FORWARDED_HOST")
        if settings.USE_X_FORWARDED_PORT:
            keys.append("HTTP_X_FORWARDED_PORT")
        if settings.SECURE_PROXY_SSL_HEADER:
            keys.append(settings.SECURE_PROXY_SSL_HEADER[0])
        self._variant_keys = tuple(keys)
        self._paths = {path: resolve(path).view_name for path in paths}
        return self._paths

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        paths = self._paths if self._paths is not None else self._setup()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if (
            path not in paths
            or (method != "GET" and method != "HEAD")
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE")
            or environ.get("CONTENT_LENGTH", "") not in ("", "0")
        ):
            return self.application(environ, start_response)
        variant = (path, *(environ.get(key) for key in self._variant_keys))
        now = time.monotonic()
        full = self._entries.get((*variant, "200"))
        entry = None
        held = key_set_held()
        if full is not None and now < full.fresh_until and full.key_set is held:
            matched = full.etag in {tag.strip() for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",")}
            entry = self._entries.get((*variant, "304")) if matched else full
            if entry is not None and (now >= entry.fresh_until or entry.etag != full.etag):
                entry = None
        if entry is None:
            return self._through_django(environ, start_response, variant, paths[path])
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if ACCEPTABLE_ID.fullmatch(offered) else new_request_id()
        start_response(entry.status, [*entry.headers, (HEADER, request_id)])
        entry.timing.observe(time.perf_counter() - started)
        entry.count.inc()
        return [b""] if method == "HEAD" else [entry.body]

    def _through_django(
        self, environ: dict[str, Any], start_response: StartResponse, variant: tuple[Any, ...], view: str
    ) -> Iterable[bytes]:
        """Let Django answer; keep a GET's answer if the view marked it and it is the same for all."""
        sent: list[Any] = []

        def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            sent[:] = [status, headers]
            return start_response(status, headers, *args)

        response = self.application(environ, remember)
        freshness: Freshness | None = getattr(response, FRESHNESS, None)
        if freshness is None or environ.get("REQUEST_METHOD") != "GET" or not sent:
            return response
        status, headers = sent
        code = status.split(" ", 1)[0]
        names = {name.lower() for name, _ in headers}
        if code not in ("200", "304") or "set-cookie" in names or "vary" in names:
            return response
        if len(self._entries) >= MAX_ENTRIES and (*variant, code) not in self._entries:
            return response
        kept = tuple((name, value) for name, value in headers if name.lower() != REQUEST_ID_HEADER)
        etag = next((value for name, value in headers if name.lower() == "etag"), "")
        self._entries[(*variant, code)] = _Entry(
            status=status,
            headers=kept,
            # Django's WSGI handler returns the HttpResponse itself (FRESHNESS marks only those).
            body=b"" if code == "304" else getattr(response, "content", b""),
            etag=etag,
            fresh_until=freshness.until,
            key_set=freshness.key_set,
            count=REQUESTS.labels(view, code),
            timing=LATENCY.labels(view),
        )
        return response
