"""Porchlight's routes, a page that prints ``request.META`` and one that fails (tests/ops/test_serve.py)."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def meta(request: HttpRequest) -> JsonResponse:
    """Show everything a view could show of the request: META, the scheme and the host."""
    return JsonResponse(
        {
            "meta": {key: str(value) for key, value in request.META.items()},
            "secure": request.is_secure(),
            "host": request.get_host(),
        }
    )


def fail(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("a deliberate failure: the error report lists META")


urlpatterns = [
    path("serving-test/meta", meta),
    path("serving-test/error", fail),
    path("", include("porchlight.urls")),
]
