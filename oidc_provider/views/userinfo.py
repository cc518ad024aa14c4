"""The UserInfo endpoint (OIDC Core 1.0 §5.3), with CORS for the clients' registered origins."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views.mixins import OAuthLibMixin

from ..cors import allow_origin, preflight_response


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(OAuthLibMixin, View):
    def get_scopes(self) -> list[str]:
        return ["openid"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._respond(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self._respond(request)

    def options(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return preflight_response(request, methods="GET, POST")

    def _respond(self, request: HttpRequest) -> HttpResponse:
        valid, oauth_request = self.verify_request(request)
        if valid:
            claims = self.get_server().request_validator.get_userinfo_claims(oauth_request)
            return allow_origin(request, JsonResponse(claims), oauth_request.client)
        detail = dict(getattr(oauth_request, "oauth2_error", None) or {"error": "invalid_token"})
        if "access_token" in request.GET:
            detail = {
                "error": "invalid_request",
                "error_description": "Send the token in the Authorization header.",
            }
        # RFC 6750 §3.1: insufficient_scope is 403, invalid_token 401, invalid_request 400.
        status = {"insufficient_scope": 403, "invalid_request": 400}.get(detail["error"], 401)
        error = detail["error"]
        response = JsonResponse(detail, status=status)
        # RFC 6750 §3: a request with no credentials gets a bare challenge.
        has_token = "HTTP_AUTHORIZATION" in request.META or "access_token" in request.POST
        response["WWW-Authenticate"] = f'Bearer error="{error}"' if has_token else 'Bearer realm="userinfo"'
        return allow_origin(request, response, getattr(oauth_request, "client", None))
