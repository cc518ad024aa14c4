"""CORS for browser-based clients: only origins a client registered (``allowed_origins``)."""

from django.http import HttpRequest, HttpResponse

from .models import Client


def _origin_registered_anywhere(origin: str | None) -> bool:
    if not origin:
        return False
    candidates = Client.objects.filter(allowed_origins__contains=origin).only("allowed_origins")
    return any(client.origin_allowed(origin) for client in candidates)


def allow_origin(request: HttpRequest, response: HttpResponse, client: Client | None) -> HttpResponse:
    """Let the request's origin read ``response`` when ``client`` registered that origin.

    With no client (the token was not valid), any client's registration of the origin lets a
    browser app read the error, so it can tell an expired token from a network failure.
    """
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    allowed = client.origin_allowed(origin) if client is not None else _origin_registered_anywhere(origin)
    if origin and allowed:
        response["Access-Control-Allow-Origin"] = origin
        # Retry-After is no CORS-safelisted header: without this a browser app cannot read it (429).
        response["Access-Control-Expose-Headers"] = "WWW-Authenticate, Retry-After"
    return response


def preflight_response(request: HttpRequest, *, methods: str) -> HttpResponse:
    """Answer a CORS preflight. The token is not sent yet, so any client's origin list counts."""
    response = HttpResponse(status=204)
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and _origin_registered_anywhere(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = methods
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Max-Age"] = "600"
    return response
