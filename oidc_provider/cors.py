"""CORS for browser-based clients: only origins a client registered (``allowed_origins``).

One rule for every endpoint a browser app calls (token, UserInfo, revocation, device
authorization): ``cors_endpoint`` answers the preflight and decides, after the view, whether the
request's origin may read the response, success and error alike (a 400 ``invalid_grant``, a 401
with its ``WWW-Authenticate``, a 429 with its ``Retry-After``). Without that an app sees a failed
refresh as a network error. Discovery and JWKS are public documents: any origin may read them
(``public_document``).
"""

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .models import Client

# Not CORS-safelisted response headers an app must read: the challenge of a 401 (RFC 6750 §3,
# RFC 6749 §5.2) and the wait of a 429 (RFC 6585 §4).
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After"
# The views mark a response whose client they already know (UserInfo: the token's client).
_DECIDED = "_porchlight_cors_decided"

View = Callable[..., HttpResponseBase]
R = TypeVar("R", bound=HttpResponseBase)


def _origin_registered_anywhere(origin: str | None) -> bool:
    if not origin:
        return False
    candidates = Client.objects.filter(allowed_origins__contains=origin).only("allowed_origins")
    return any(client.origin_allowed(origin) for client in candidates)


def allow_origin(request: HttpRequest, response: R, client: Client | None) -> R:
    """Let the request's origin read ``response`` when ``client`` registered that origin.

    With no client (the token was not valid, the client is unknown), any client's registration
    of the origin lets a browser app read the error, so it can tell an expired token from a
    network failure.
    """
    origin = request.META.get("HTTP_ORIGIN")
    response["Vary"] = "Origin"
    # oauthlib adds its own header for https origins only; this is the one decision.
    if "Access-Control-Allow-Origin" in response:
        del response["Access-Control-Allow-Origin"]
    allowed = client.origin_allowed(origin) if client is not None else _origin_registered_anywhere(origin)
    if origin and allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    setattr(response, _DECIDED, True)
    return response


def preflight_response(request: HttpRequest, *, methods: str) -> HttpResponse:
    """Answer a CORS preflight. The token is not sent yet, so any client's origin list counts."""
    response = HttpResponse(status=204)
    origin = request.META.get("HTTP_ORIGIN")
    response["Vary"] = "Origin"
    if origin and _origin_registered_anywhere(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = methods
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Max-Age"] = "600"
    return response


def _named_client_id(request: HttpRequest) -> str | None:
    # RFC 6749 §2.3.1: the client names itself in the Basic header or the form body.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0]) or None
    return request.POST.get("client_id") or None


def _named_client(request: HttpRequest) -> Client | None:
    client_id = _named_client_id(request)
    if not client_id:
        return None
    return Client.objects.filter(client_id=client_id).only("allowed_origins").first()


def cors_endpoint(*, methods: str) -> Callable[[View], View]:
    """Decorate an endpoint browser apps call: answer preflights, let registered origins read it.

    The client the request names decides (its ``allowed_origins``); a view that knows the client
    otherwise calls ``allow_origin`` itself. Requests without an ``Origin`` (servers) cost nothing.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "OPTIONS":
                return preflight_response(request, methods=methods)
            response = view(request, *args, **kwargs)
            if getattr(response, _DECIDED, False):
                return response
            # META, not request.headers: that builds a mapping of every header to read one.
            client = _named_client(request) if "HTTP_ORIGIN" in request.META else None
            return allow_origin(request, response, client)

        return wrapped

    return decorate


def public_document(response: HttpResponse) -> HttpResponse:
    """Let any origin read a public document (discovery, JWKS): it holds nothing per client."""
    response["Access-Control-Allow-Origin"] = "*"
    return response


def public_preflight() -> HttpResponse:
    """Answer a preflight for a public document: any origin, GET."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET"
    response["Access-Control-Max-Age"] = "600"
    return response
