"""The token endpoint (RFC 6749 §3.2) and revocation (RFC 7009): DOT's, with Porchlight's gates."""

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import RevokeTokenView as DotRevokeTokenView
from oauth2_provider.views import TokenView as DotTokenView

from ..client_credentials import client_credentials_response
from ..cors import cors_endpoint
from ..models import Client, GrantType
from ..rate_limits import (
    ClientIdentity,
    identify_client,
    identity_loaded,
    request_refused_for,
    too_many_requests,
)

# The grant types served (RFC 6749 §5.2), as a set: Django's choices build the list anew per read.
GRANT_TYPES = frozenset(GrantType.values)


def client_challenge(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Give a 401 the client authentication challenge RFC 6749 §5.2 asks for.

    oauthlib answers invalid_client with a ``Bearer`` challenge, the scheme for resource
    servers (RFC 6750). A client that authenticated with Basic must get a Basic challenge;
    one that posted its credentials is told Basic is what the endpoint supports.
    """
    if response.status_code == 401:
        response["WWW-Authenticate"] = 'Basic realm="porchlight"'
    return response


class TokenView(DotTokenView):
    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        # Decorated once, here: DOT decorates dispatch with csrf_exempt and login_not_required by
        # method_decorator, which decorates anew for every request, and so did the CORS decorator
        # (docs/performance.md). Browser apps redeem codes, refresh and revoke cross-origin;
        # their errors must be readable too.
        view = super().as_view(**initkwargs)
        return csrf_exempt(login_not_required(cors_endpoint(methods="POST")(view)))

    # View's own, without DOT's per-request decoration (as_view above applies it once).
    dispatch = View.dispatch

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # RFC 6749 §3.2: parameters must not repeat (RFC 8707 §2 lets resource). DOT keeps the
        # last value and oauthlib never sees the repetition, so it is refused here.
        repeated = [key for key, values in request.POST.lists() if len(values) > 1 and key != "resource"]
        if repeated:
            return self._error("invalid_request", f"{repeated[0]} is repeated.")
        grant_type = request.POST.get("grant_type")
        if not grant_type:
            return self._error("invalid_request", "grant_type is required.")
        if grant_type not in GRANT_TYPES:
            # RFC 6749 §5.2: only the advertised grants reach oauthlib. This keeps out the
            # password grant, which oauthlib checks the user's password for *before* asking
            # whether the client may use it (a password oracle that skips login throttling).
            return self._error("unsupported_grant_type", "This grant type is not supported.")
        # One transaction per token request: rows locked while validating (the code, the
        # refresh token) stay locked until the new tokens are saved, so a code or refresh token
        # yields at most one token set however many requests race for it. client_credentials
        # locks nothing and DOT saves its one token atomically, so it skips the outer
        # transaction and the SAVEPOINT round trips DOT's would add inside it.
        outer = nullcontext() if grant_type == GrantType.CLIENT_CREDENTIALS else transaction.atomic()
        # The client's budget is counted before the grant runs and outside its transaction
        # (rate_limits.py): a refused request consumes nothing, and the count's row is not held.
        # A client_credentials request reads only the client's machine settings (rate_limits.py).
        machine = grant_type == GrantType.CLIENT_CREDENTIALS
        identity = identify_client(self.get_oauthlib_core(), request, machine=machine)
        refusal = request_refused_for(request=request, identity=identity, endpoint="token")
        if refusal is not None:
            # Browser apps read the refusal and its Retry-After (cors_endpoint).
            return too_many_requests(refusal)
        with identity_loaded(identity), outer:
            if grant_type == GrantType.DEVICE_CODE:
                # RFC 8628 §3.4: oauthlib's device grant with Porchlight's validator hooks
                # (oidc_provider/device.py). DOT's own branch looks the code up in clear, for
                # any client, and answers a missing device_code with a 500.
                response = self.authorization_flow_token_response(request)
            elif machine and (client := self._authenticated_client(request, identity)) is not None:
                # RFC 6749 §4.4 without oauthlib's token endpoint (oidc_provider/client_credentials.py).
                response = client_credentials_response(request, client)
            else:
                response = super().post(request, *args, **kwargs)
        if response.status_code >= 400:
            # RFC 6749 §5.1, §5.2: errors are JSON and never stored. DOT answers an error raised
            # while the token is saved (RFC 8707 invalid_target) with neither header.
            response["Content-Type"] = "application/json"
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return client_challenge(request, response)

    def _authenticated_client(self, request: HttpRequest, identity: ClientIdentity) -> Client | None:
        """Return the client a client_credentials request authenticated as, if it goes the direct way.

        The client must have authenticated (by secret or assertion, RFC 6749 §2.3) rather than only
        named itself; any other request, one with a query string (which oauthlib refuses) and any
        request while something listens to ``app_authorized`` go through oauthlib's grant.
        """
        if not identity.accepted or identity.credentials is None or identity.client is None:
            return None
        if request.META.get("QUERY_STRING") or app_authorized.has_listeners(self):
            return None
        return identity.client

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        if app_authorized.has_listeners(self):
            return super().authorization_flow_token_response(request, *args, **kwargs)
        # DOT parses the response it just built and reads the new token back (one SELECT per
        # token request) only to send app_authorized, which nothing here listens to.
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    @staticmethod
    def _error(error: str, description: str) -> HttpResponse:
        response = JsonResponse({"error": error, "error_description": description}, status=400)
        # RFC 6749 §5.1: token endpoint responses are not cached.
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


@method_decorator(cors_endpoint(methods="POST"), name="dispatch")
class RevokeTokenView(DotRevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Counted before the token is looked up, as at the token endpoint (rate_limits.py).
        # DOT's view has no annotations, and calls through it cannot be exempted by name
        # (untyped_calls_exclude in pyproject.toml).
        core = self.get_oauthlib_core()  # type: ignore[no-untyped-call]
        identity = identify_client(core, request)
        refusal = request_refused_for(request=request, identity=identity, endpoint="revocation")
        if refusal is not None:
            return too_many_requests(refusal)
        with identity_loaded(identity):
            response = super().post(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        if not response.content:
            # RFC 7009 §2.2: success is a 200 without content, so without a Content-Type (RFC 9110
            # §8.3); DOT's text/html makes browser libraries (oidc-client-ts) refuse the answer.
            del response["Content-Type"]
        # RFC 7009 §2.2.1: invalid_client is answered as in RFC 6749 §5.2.
        return client_challenge(request, response)
