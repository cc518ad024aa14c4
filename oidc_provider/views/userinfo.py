"""The UserInfo endpoint (OIDC Core 1.0 §5.3), with CORS for the clients' registered origins.

A direct path: one indexed lookup of the access token by its checksum, then the
rules DOT's ``validate_bearer_token`` applies, in its order and with its error descriptions,
without building an oauthlib request for a decision that is one row.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ground.json_answers import json_answer

from ..claims import userinfo_claims
from ..cors import allow_origin, cors_endpoint
from ..models import AccessToken
from ..rate_limits import client_request_refused, too_many_requests
from ..requested_claims import claims_loaded
from ..signed_userinfo import CONTENT_TYPE as USERINFO_JWT
from ..signed_userinfo import userinfo_jwt
from ..tokens import access_token_presented, token_usable

SCOPES = ["openid"]


def bearer_token(request: HttpRequest) -> str | None:
    """Return the bearer token of ``request``: its Authorization header, else its form body."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        # RFC 6750 §2.1; any other scheme is no bearer token (oauthlib's get_token_from_header).
        parts = header.split()
        return parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else None
    # RFC 6750 §2.2: a form-encoded body; Django parses it for POST only.
    return request.POST.get("access_token")


def token_error(request: HttpRequest, token: AccessToken | None) -> dict[str, str] | None:
    """Return the RFC 6750 §3.1 error for ``token`` at UserInfo, or None if it may be used."""
    if token is None:
        return {"error": "invalid_token", "error_description": _("The access token is invalid.")}
    if token.is_expired():
        return {"error": "invalid_token", "error_description": _("The access token has expired.")}
    # OIDC Core 1.0 §5.3: UserInfo needs the openid scope (a client_credentials token has none).
    if not token.allow_scopes(SCOPES):
        return {
            "error": "insufficient_scope",
            "error_description": _("The access token is valid but does not have enough scope."),
        }
    # RFC 8707: a token restricted to resources must name this one (the path, as DOT checks it).
    if token.resource and not token.allows_audience(request.get_full_path().split("?")[0]):
        return {
            "error": "invalid_token",
            "error_description": _("The access token is not valid for this resource."),
        }
    if token.application is not None and not token.application.is_usable(request):
        return {"error": "invalid_token", "error_description": _("The access token is invalid.")}
    if not token_usable(token):
        return {"error": "invalid_token", "error_description": _("The access token is invalid.")}
    return None


class UserInfoView(View):
    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        # Decorated once, here: method_decorator on dispatch would apply both decorators anew
        # to every request (docs/performance.md).
        view = super().as_view(**initkwargs)
        return csrf_exempt(cors_endpoint(methods="GET, POST")(view))

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._respond(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self._respond(request)

    def _respond(self, request: HttpRequest) -> HttpResponse:
        # (An empty query string has nothing to parse: most requests never build request.GET.)
        if request.META.get("QUERY_STRING") and "access_token" in request.GET:
            # RFC 9700 §4.3.2, RFC 6750 §2.3: tokens in URLs leak into logs and Referer headers.
            detail = {
                "error": "invalid_request",
                "error_description": "Send the token in the Authorization header.",
            }
            return self._error(request, detail)
        value = bearer_token(request)
        if not value:
            return self._error(request, {"error": "invalid_token"})
        token = access_token_presented(value=value)
        error = token_error(request, token)
        if error is not None:
            return self._error(request, error)
        # token_error let it through: it exists and has the openid scope, so a user.
        assert token is not None and token.user is not None and token.application is not None
        refusal = client_request_refused(client=token.application, endpoint="userinfo")
        if refusal is not None:
            # No WWW-Authenticate: the token is good (RFC 6750 §3 challenges a bad one), and a
            # challenge would have the app discard it.
            return allow_origin(request, too_many_requests(refusal), token.application)
        # The token's scopes the provider knows, as DOT passes them (AccessToken.scopes).
        requested = claims_loaded(token.claims)["userinfo"]
        claims = userinfo_claims(token.user, list(token.scopes), token.application, requested=requested)
        response: HttpResponse
        if token.application.userinfo_signed_response_alg:
            # OIDC Core 1.0 §5.3.2: the client registered a signed response.
            body = userinfo_jwt(claims, client=token.application)
            response = HttpResponse(body, content_type=USERINFO_JWT)
        else:
            response = json_answer(claims)
        return allow_origin(request, response, token.application)

    @staticmethod
    def _error(request: HttpRequest, detail: dict[str, str]) -> HttpResponse:
        # RFC 6750 §3.1: insufficient_scope is 403, invalid_token 401, invalid_request 400.
        status = {"insufficient_scope": 403, "invalid_request": 400}.get(detail["error"], 401)
        response = json_answer(detail, status=status)
        # RFC 6750 §3: a request with no credentials gets a bare challenge.
        has_token = "HTTP_AUTHORIZATION" in request.META or "access_token" in request.POST
        error = detail["error"]
        response["WWW-Authenticate"] = f'Bearer error="{error}"' if has_token else 'Bearer realm="userinfo"'
        return allow_origin(request, response, None)
