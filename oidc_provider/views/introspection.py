"""Token introspection (RFC 7662).

Only the client a token was issued to, or a client registered as allowed to introspect
(``may_introspect``, for resource servers), learns anything about it; any other caller is
told ``active: false`` (RFC 7662 §2.2, §4). DOT lets any client introspect any token.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request, urlencode

from ground.checksums import token_checksum

from ..models import Client, RefreshToken
from ..tokens import access_token_claims, access_token_find, refresh_token_claims, token_usable

INACTIVE = {"active": False}


def invalid_client() -> JsonResponse:
    response = JsonResponse({"error": "invalid_client"}, status=401)
    response["WWW-Authenticate"] = 'Basic realm="introspection"'
    return response


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectionView(OAuthLibMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        client = self._authenticated_client(request)
        if client is None:
            return invalid_client()
        token = request.POST.get("token")
        if not token:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "token is required."}, status=400
            )
        hint = request.POST.get("token_type_hint")
        lookups = [self._access_token, self._refresh_token]
        if hint == "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            data = lookup(token, client)
            if data is not None:
                return self._no_store(JsonResponse(data))
        return self._no_store(JsonResponse(INACTIVE))

    def _authenticated_client(self, request: HttpRequest) -> Client | None:
        core = self.get_oauthlib_core()
        # The oauthlib request DOT would build, from its public parts: the headers and body as
        # DOT extracts them, and the query re-encoded so oauthlib can always parse it.
        query = urlencode([(key, request.GET[key]) for key in request.GET])
        uri = f"{request.path}?{query}" if query else request.path
        body = urlencode(core.extract_body(request))
        oauth_request = Request(uri, "POST", body, core.extract_headers(request))
        validator = core.server.request_validator
        # RFC 7662 §2.1: the caller must authenticate, which a public client cannot do.
        if not validator.authenticate_client(oauth_request):
            return None
        client: Client | None = oauth_request.client
        if client is None or client.client_type != Client.CLIENT_CONFIDENTIAL:
            return None
        return client

    @staticmethod
    def _may_see(token_client_id: int | None, client: Client) -> bool:
        return client.may_introspect or token_client_id == client.pk

    def _access_token(self, value: str, client: Client) -> dict[str, Any] | None:
        token = access_token_find(value=value)
        if token is None:
            return None
        if not self._may_see(token.application_id, client) or not token.is_valid() or not token_usable(token):
            return INACTIVE
        return access_token_claims(token)

    def _refresh_token(self, value: str, client: Client) -> dict[str, Any] | None:
        checksum = token_checksum(value)
        token = (
            RefreshToken.objects.select_related("user", "application", "access_token")
            .filter(token_checksum=checksum, revoked__isnull=True)
            .first()
        )
        if token is None:
            return None
        if not self._may_see(token.application_id, client) or not token_usable(token):
            return INACTIVE
        return refresh_token_claims(token) or INACTIVE

    @staticmethod
    def _no_store(response: HttpResponse) -> HttpResponse:
        response["Cache-Control"] = "no-store"
        return response
