"""Answer unparseable protocol requests with 400 ``invalid_request``, never a 500 (docs/design.md, gap 14)."""

import base64
import binascii
import re
from urllib.parse import unquote_plus

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

PROTOCOL_PREFIX = "/o/"
# RFC 3986 §2.1: "%" must start a two-hex-digit escape; oauthlib raises ValueError otherwise.
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class MalformedRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PROTOCOL_PREFIX):
            problem = self._problem(request)
            if problem:
                return self._error(request, problem)
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str | None:
        if BAD_ESCAPE.search(request.META.get("QUERY_STRING", "")):
            return "The query string is not valid percent-encoding."
        if request.method == "POST":
            try:
                if BAD_ESCAPE.search(request.body.decode("latin-1")) and request.content_type.endswith(
                    "urlencoded"
                ):
                    return "The request body is not valid percent-encoding."
                request.POST  # noqa: B018 - parse now, where a failure can be answered cleanly
            except (MultiPartParserError, ValueError, UnicodeDecodeError, LookupError, BadRequest):
                # LookupError: a charset Python does not know; BadRequest: a form body that is
                # not UTF-8, which Django refuses to decode.
                return "The request body cannot be parsed."
        if _has_nul(request):
            return "The request contains a NUL character."
        return None

    @staticmethod
    def _error(request: HttpRequest, description: str) -> HttpResponse:
        # Pages a browser lands on get a page; machine endpoints get RFC 6749 §5.2 JSON.
        if request.path.startswith(PROTOCOL_PREFIX + "authorize"):
            return render(request, "oidc_provider/error.html", {"message": description}, status=400)
        if request.path.startswith(PROTOCOL_PREFIX + "logout"):
            context = {"error": {"description": description}}
            return render(request, "oidc_provider/logout_confirm.html", context, status=400)
        return JsonResponse({"error": "invalid_request", "error_description": description}, status=400)


def _has_nul(request: HttpRequest) -> bool:
    """Say whether a parameter, the Basic credentials or the Origin carry a NUL character.

    RFC 6749 Appendix A allows no control characters in any parameter, and PostgreSQL cannot
    compare text with NUL in it: psycopg raises DataError (not the ValueError DOT expects), a 500.
    """
    sources = [request.GET, request.POST] if request.method == "POST" else [request.GET]
    for params in sources:
        for key, values in params.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    if "\x00" in request.headers.get("Origin", ""):
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return False  # not Basic credentials at all: client authentication fails cleanly
        # DOT form-decodes each half (RFC 6749 §2.3.1), so %00 becomes NUL too.
        return "\x00" in unquote_plus(decoded)
    return False
