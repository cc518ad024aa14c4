"""Token introspection (RFC 7662).

Only the client a token was issued to, or a client registered as allowed to introspect
(``may_introspect``, for resource servers), learns anything about it; any other caller is
told ``active: false`` (RFC 7662 §2.2, §4). DOT lets any client introspect any token.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views.mixins import OAuthLibMixin

from ground.checksums import token_checksum
from ground.json_answers import json_answer

from ..models import Client, RefreshToken
from ..rate_limits import MachineLookup, identify_client, request_refused_for, too_many_requests
from ..tokens import access_token_claims, access_token_introspected, refresh_token_claims, token_usable

INACTIVE = {"active": False}
# What a token is and whom it names: no cache keeps the answer.
NO_STORE = {"Cache-Control": "no-store"}


def invalid_client() -> HttpResponse:
    return json_answer(
        {"error": "invalid_client"}, status=401, headers={"WWW-Authenticate": 'Basic realm="introspection"'}
    )


class IntrospectionView(OAuthLibMixin, View):
    http_method_names = ["post", "options"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        # Decorated once, here: method_decorator on dispatch would decorate anew per request.
        return csrf_exempt(super().as_view(**initkwargs))

    def post(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("token")
        # Only the client's authentication and introspection settings are read (rate_limits.py),
        # and the access token asked about in the same statement.
        read = MachineLookup(access_token_checksum=token_checksum(token) if token else None)
        identity = identify_client(self.get_oauthlib_core(), request, machine=read)
        # RFC 7662 §2.1: the caller must authenticate, which a public client cannot do.
        client = identity.client if identity.accepted and self._confidential(identity.client) else None
        refusal = request_refused_for(
            request=request,
            identity=replace(identity, accepted=client is not None),
            endpoint="introspection",
        )
        if refusal is not None:
            return too_many_requests(refusal)
        if client is None:
            return invalid_client()
        if not token:
            return json_answer(
                {"error": "invalid_request", "error_description": "token is required."}, status=400
            )
        hint = request.POST.get("token_type_hint")
        lookups = [self._access_token, self._refresh_token]
        if hint == "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            data = lookup(token, client, read)
            if data is not None:
                return json_answer(data, headers=NO_STORE)
        return json_answer(INACTIVE, headers=NO_STORE)

    @staticmethod
    def _confidential(client: Client | None) -> bool:
        return client is not None and client.client_type == Client.CLIENT_CONFIDENTIAL

    @staticmethod
    def _may_see(token_client_id: int | None, client: Client) -> bool:
        return client.may_introspect or token_client_id == client.pk

    def _access_token(self, value: str, client: Client, read: MachineLookup) -> dict[str, Any] | None:
        # Read with the client already, unless the client was found another way.
        token = read.access_token if read.access_token_read else access_token_introspected(value=value)
        if token is None:
            return None
        if not self._may_see(token.application_id, client) or not token.is_valid() or not token_usable(token):
            return INACTIVE
        return access_token_claims(token)

    def _refresh_token(self, value: str, client: Client, read: MachineLookup) -> dict[str, Any] | None:
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
