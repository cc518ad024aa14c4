"""Answer unparseable protocol requests with 400 ``invalid_request``, never a 500 (DESIGN gap 14)."""

import re

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
            except (MultiPartParserError, ValueError, UnicodeDecodeError):
                return "The request body cannot be parsed."
        return None

    @staticmethod
    def _error(request: HttpRequest, description: str) -> HttpResponse:
        if request.path.startswith(PROTOCOL_PREFIX + "authorize"):
            return render(request, "oidc_provider/error.html", {"message": description}, status=400)
        return JsonResponse({"error": "invalid_request", "error_description": description}, status=400)
