"""CORS for browser-based clients: only origins a client registered (``allowed_origins``)."""

from django.http import HttpRequest, HttpResponse

from .models import Client


def _origin_registered_anywhere(origin: str) -> bool:
    candidates = Client.objects.filter(allowed_origins__contains=origin).only("allowed_origins")
    return any(client.origin_allowed(origin) for client in candidates)


def allow_origin(request: HttpRequest, response: HttpResponse, client: Client | None) -> HttpResponse:
    """Let the request's origin read ``response`` when ``client`` registered that origin."""
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and client is not None and client.origin_allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "WWW-Authenticate"
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
