"""Answer requests that fail because a dependency is down with 503, not 500.

Django turns an uncaught exception into a response by calling ``handler500`` (set in urls.py).
When the exception says the database or the shared cache (Redis, with ``PORCHLIGHT_CACHE_URL``)
cannot be reached, or no signing key can sign, the request
is not at fault and a retry later will succeed: answer 503 with ``Retry-After`` (RFC 9110 §15.6.4),
JSON ``temporarily_unavailable`` for clients (RFC 6749 §4.1.2.1 names that code) and a page for
people, and log one line instead of a traceback. Django reconnects on the next request
(``CONN_HEALTH_CHECKS``), so service resumes by itself when the database is back.
"""

import logging
import sys

import redis.exceptions
from django import db
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from oidc_provider.keys_at_rest import SigningKeyUnavailable

# The logger operators filter outage lines by (README "Deployment"), whatever module logs them.
logger = logging.getLogger("porchlight.outage")

RETRY_AFTER_SECONDS = 30
# Machine endpoints answer JSON; the authorization and logout endpoints are pages in a browser.
JSON_PREFIXES = ("/o/", "/.well-known/", "/readyz", "/metrics")
PAGE_PREFIXES = ("/o/authorize", "/o/logout", "/o/device")
TEMPORARY_FAILURES = (
    db.OperationalError,
    db.InterfaceError,
    # Django's Redis cache backend lets the client's errors through (sessions and throttle
    # counters may live there): Redis down is an outage like the database's.
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    SigningKeyUnavailable,
)


def wants_json(request: HttpRequest) -> bool:
    path = request.path
    if path.startswith(PAGE_PREFIXES):
        return False
    return path.startswith(JSON_PREFIXES) or "application/json" in request.headers.get("Accept", "")


def unavailable_response(request: HttpRequest, reason: str) -> HttpResponse:
    """Return the 503 a client or a person sees while ``reason`` lasts."""
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {"error": "temporarily_unavailable", "error_description": reason},
            status=503,
        )
        response["Cache-Control"] = "no-store"
    else:
        # No request context: the session and user live in the database that may be down.
        page = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _reason(error: BaseException) -> str:
    if isinstance(error, SigningKeyUnavailable):
        return "No signing key is available; try again later."
    return "The service is temporarily unavailable; try again later."


@requires_csrf_token
def server_error(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Answer an uncaught exception: 503 for a temporary failure, Django's 500 page otherwise."""
    error = sys.exc_info()[1]
    if not isinstance(error, TEMPORARY_FAILURES):
        page = loader.get_template("500.html").render()
        return HttpResponseServerError(page)
    response = unavailable_response(request, _reason(error))
    # Django would log a traceback per failure (one for the view, one more when the session is
    # saved); an outage is one line per request, with the cause and never request data. Both
    # flags are attributes the classes do not declare: Django's log_response reads the first.
    response._has_been_logged = True  # type: ignore[attr-defined]
    if not getattr(request, "_outage_logged", False):
        request._outage_logged = True  # type: ignore[attr-defined]
        lines = str(error).strip().splitlines()
        cause = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
        logger.error("503 %s %s: %s", request.method, request.path, cause)
    return response
