"""Answer requests that cannot be parsed with a 400, never a 500 (docs/design.md, gap 14).

Every request: its Content-Type header must parse, a form body must be UTF-8 and must parse.
Protocol requests (under /o/) also: percent-encoding must be valid and no parameter may hold a
NUL. Protocol endpoints answer RFC 6749 §5.2 ``invalid_request`` JSON; the authorization and
logout endpoints and every other page answer a page.

This runs before the session, CSRF and authentication middleware and before any view, which
matters: Django raises ``BadRequest`` on *every* read of ``request.POST`` when a form declares
another charset; the CSRF check reads it first and Django's 400 and 500 handlers
(``requires_csrf_token``) read it again, so the exception escaped Django's handler and gunicorn
answered with its own 500 page.
"""

import base64
import binascii
import re
from urllib.parse import unquote_plus

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import loader

from scim.errors import ScimError

PROTOCOL_PREFIX = "/o/"
SCIM_PREFIX = "/scim/"
# RFC 3986 §2.1: "%" must start a two-hex-digit escape; oauthlib raises ValueError otherwise.
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Set in the WSGI environ (porchlight/wsgi.py) when Django could not parse the Content-Type header.
CONTENT_TYPE_ERROR = "porchlight.content_type_error"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# The labels of UTF-8 (WHATWG Encoding §4.2). A form body is UTF-8: WHATWG URL §5.1 decodes
# application/x-www-form-urlencoded as UTF-8 and defines no charset parameter, nor does RFC 7578
# §8 for multipart/form-data; a form that names another charset was encoded otherwise.
UTF8_LABELS = frozenset(
    {"unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"}
)
NOT_UTF8 = "The request body cannot be parsed: a form must be sent in UTF-8."
UNPARSEABLE_BODY = "The request body cannot be parsed."
# Django raises these while parsing a body (SuspiciousOperation: too many fields or files, too big).
BODY_ERRORS = (
    MultiPartParserError,
    ValueError,
    LookupError,
    BadRequest,
    SuspiciousOperation,
    UnreadablePostError,
)


class MalformedRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return self._error(request, problem)
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str | None:
        if request.encoding not in (None, "utf-8"):
            # Django decodes the query string in the body's declared charset too (UTF-7 yields
            # lone surrogates, a codec such as base64 raises LookupError), and refuses "utf8" for
            # a form: a URL is UTF-8 (RFC 3986 §2.5), and so is any form body let through below.
            request.encoding = "utf-8"
        if CONTENT_TYPE_ERROR in request.META:
            return "The Content-Type header cannot be parsed."
        # Django's request handlers always parse the Content-Type (both are None only in a bare
        # HttpRequest()).
        charset = (request.content_params or {}).get("charset")
        content_type = request.content_type or ""
        form = content_type in FORM_TYPES
        if form and charset is not None and charset.strip().lower() not in UTF8_LABELS:
            return NOT_UTF8
        protocol = request.path.startswith(PROTOCOL_PREFIX)
        if protocol and BAD_ESCAPE.search(request.META.get("QUERY_STRING", "")):
            return "The query string is not valid percent-encoding."
        if request.method == "POST":
            try:
                if (
                    protocol
                    and BAD_ESCAPE.search(request.body.decode("latin-1"))
                    and content_type.endswith("urlencoded")
                ):
                    return "The request body is not valid percent-encoding."
                request.POST  # noqa: B018 - parse now, where a failure can be answered cleanly
            except BODY_ERRORS:
                return UNPARSEABLE_BODY
        if protocol and _has_nul(request):
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
        if request.path.startswith(PROTOCOL_PREFIX):
            return JsonResponse({"error": "invalid_request", "error_description": description}, status=400)
        if request.path.startswith(SCIM_PREFIX):
            # SCIM clients read RFC 7644 §3.12 error bodies.
            return ScimError(400, description, "invalidSyntax").response()
        # Any other page: the project's 400 page, rendered as Django's bad_request view does.
        return HttpResponseBadRequest(loader.get_template("400.html").render())


def _has_nul(request: HttpRequest) -> bool:
    """Say whether a parameter, the Basic credentials or the Origin carry a NUL character.

    RFC 6749 Appendix A allows no control characters in any parameter, and PostgreSQL cannot
    compare text with NUL in it: psycopg raises DataError (not the ValueError DOT expects), a 500.
    """
    # An empty query string has no parameters: its QueryDict is not built here for nothing.
    sources = [request.GET] if request.META.get("QUERY_STRING") else []
    if request.method == "POST":
        sources.append(request.POST)
    for params in sources:
        for key, values in params.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    # META, not request.headers: that builds a mapping of every header to read two.
    if "\x00" in request.META.get("HTTP_ORIGIN", ""):
        return True
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return False  # not Basic credentials at all: client authentication fails cleanly
        # DOT form-decodes each half (RFC 6749 §2.3.1), so %00 becomes NUL too.
        return "\x00" in unquote_plus(decoded)
    return False
