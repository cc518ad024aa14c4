"""The device authorization endpoint (RFC 8628 §3.1, §3.2) and the verification pages (§3.3).

A device asks ``/o/device/`` for a device code and a user code; the person signs in at
``/device/`` on a phone or computer, types the user code (or arrives with it pre-filled from
``verification_uri_complete``), sees which app wants which access and allows or denies it.
The device meanwhile polls the token endpoint (``views/token.py``, ``device.py``).
"""

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OAuthRequest
from oauthlib.common import urlencode as oauth_urlencode
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from accounts.authentication import AuthContext, AuthenticatedHttpRequest, get_auth_context
from accounts.models import User
from accounts.throttling import throttle_attempt, throttle_failure, throttle_success

from .. import mfa_policy
from ..apis import ApiTargetError, api_target
from ..consent import scope_descriptions
from ..cors import cors_endpoint
from ..device import (
    USER_CODE_MAX_INPUT,
    device_authorization_create,
    device_grant_approve,
    device_grant_deny,
    device_grant_for_user_code,
    device_grant_pending,
    user_code_display,
)
from ..models import Client, DeviceGrant, GrantType
from ..rate_limits import client_request_refused, too_many_requests, unauthenticated_request_refused
from .token import client_challenge

CONFIRM_SALT = "porchlight.device.confirm"
WRONG_CODE = _("That code is not right, or it has expired. Check the code your device shows and try again.")
STALE = _("That code has expired or was already answered. Start again on your device to get a new code.")


def _no_store(response: HttpResponse) -> HttpResponse:
    # RFC 8628 §3.2 / RFC 6749 §5.1: the response carries the device code.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _error(request: HttpRequest, error: errors.OAuth2Error) -> HttpResponse:
    response = HttpResponse(error.json, status=error.status_code, content_type="application/json")
    return client_challenge(request, _no_store(response))


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(cors_endpoint(methods="POST"), name="dispatch")
class DeviceAuthorizationView(OAuthLibMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        # RFC 6749 §3.2 (which RFC 8628 §3.1 follows): parameters must not repeat.
        repeated = [key for key, values in request.POST.lists() if len(values) > 1]
        if repeated:
            return _error(request, errors.InvalidRequestError(description=f"{repeated[0]} is repeated."))
        core = self.get_oauthlib_core()
        oauth_request = OAuthRequest(
            request.build_absolute_uri(),
            "POST",
            oauth_urlencode(core.extract_body(request)),
            core.extract_headers(request),
        )
        grant = core.server.device_code_grant
        try:
            self._authenticate_client(grant, oauth_request)
        except errors.OAuth2Error as error:
            # Counted per (client_id, address), never against the client it names (rate_limits.py).
            refusal = unauthenticated_request_refused(
                request=request, client_id=str(oauth_request.client_id or ""), endpoint="device_authorization"
            )
            return _error(request, error) if refusal is None else too_many_requests(refusal)
        # Authentication set the client.
        assert oauth_request.client is not None
        refusal = client_request_refused(client=oauth_request.client, endpoint="device_authorization")
        if refusal is not None:
            # Before a device code is made: a refused request leaves nothing behind.
            return too_many_requests(refusal)
        try:
            client, scopes = self._authorize_client(grant, oauth_request)
        except errors.OAuth2Error as error:
            return _error(request, error)
        authorization = device_authorization_create(client=client, scopes=scopes)
        verification_uri = oauth2_settings.OIDC_ISS_ENDPOINT + reverse("oidc_provider:device")
        return _no_store(
            JsonResponse(
                {
                    "device_code": authorization.device_code,
                    "user_code": authorization.user_code,
                    "verification_uri": verification_uri,
                    "verification_uri_complete": (
                        f"{verification_uri}?{urlencode({'user_code': authorization.user_code})}"
                    ),
                    "expires_in": authorization.expires_in,
                    "interval": authorization.grant.interval,
                }
            )
        )

    @staticmethod
    def _authenticate_client(grant: DeviceCodeGrant, oauth_request: OAuthRequest) -> None:
        """Authenticate the client as at the token endpoint; it is then ``oauth_request.client``."""
        # RFC 8628 §3.1: confidential clients authenticate as in RFC 6749 §3.2.1, public ones send
        # client_id. oauthlib's own device endpoint wants client_id even with HTTP Basic.
        try:
            grant.validate_client_authentication(oauth_request)
        except errors.ServerError as error:
            # oauthlib's answer when the body's client_id names another client than HTTP Basic
            # did: one request, one client (RFC 6749 §2.3).
            raise errors.InvalidRequestError(
                description="client_id is not the client that authenticated.", request=oauth_request
            ) from error

    @staticmethod
    def _authorize_client(grant: DeviceCodeGrant, oauth_request: OAuthRequest) -> tuple[Client, list[str]]:
        """Check the authenticated client may use the device grant; resolve the scopes it asks for."""
        client, validator = oauth_request.client, grant.request_validator
        # Authentication set the client; DOT's server gives each grant its validator.
        assert client is not None and validator is not None
        if not validator.validate_grant_type(client.client_id, GrantType.DEVICE_CODE, client, oauth_request):
            raise errors.UnauthorizedClientError(request=oauth_request)
        grant.validate_scopes(oauth_request)
        if not oauth_request.scopes:
            # RFC 6749 §3.3: no scope asked and no default for this client: fail, don't guess.
            raise errors.InvalidScopeError(description="scope is required.", request=oauth_request)
        try:
            # One token, one API (apis.py): refused now rather than after the user approved.
            api_target(client=client, scopes=list(oauth_request.scopes), resources=[])
        except ApiTargetError as error:
            raise errors.CustomOAuth2Error(
                error=error.error, description=error.description, request=oauth_request
            ) from None
        return client, list(oauth_request.scopes)


class SignedInView(View):
    """A page for a signed-in person; anyone else goes to the sign-in page and comes back.

    Its handlers get an ``AuthenticatedHttpRequest``, and how the person signed in as
    ``self.auth_context``.
    """

    auth_context: AuthContext

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        context = get_auth_context(request)
        if context is None:
            return redirect_to_login(request.get_full_path(), "accounts:login")
        self.auth_context = context
        return super().dispatch(request, *args, **kwargs)


def code_page(
    request: HttpRequest, *, user_code: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    """Render the page where a person types the code their device shows."""
    context = {"user_code": user_code, "error": error}
    return render(request, "oidc_provider/device_code.html", context, status=status)


def _throttle_account(user: User) -> str:
    # Wrong codes count per signed-in account apart from its password failures (so typing
    # codes badly cannot lock anyone out of signing in), and per client IP with failed logins.
    return f"device-code:{user.get_username()}"


@method_decorator(never_cache, name="dispatch")
class DeviceView(SignedInView):
    """Step 1: the user code, typed or pre-filled from ``verification_uri_complete`` (RFC 8628 §3.3.1)."""

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        # A pre-filled code is only shown: looking it up waits for the user's own (CSRF-checked)
        # submit, so a link elsewhere cannot spend this account's or address's attempts.
        return code_page(request, user_code=request.GET.get("user_code", "")[:USER_CODE_MAX_INPUT])

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        typed = request.POST.get("user_code", "")[:USER_CODE_MAX_INPUT]
        # RFC 8628 §5.1: user codes are short, so guesses are counted, and refused, like passwords.
        attempt = throttle_attempt(request=request, username=_throttle_account(request.user))
        if not attempt.allowed:
            return code_page(request, user_code=typed, error=attempt.decision.message, status=429)
        found = device_grant_for_user_code(user_code=typed)
        if found is None:
            decision = throttle_failure(attempt=attempt)
            if not decision.allowed:
                return code_page(request, user_code=typed, error=decision.message, status=429)
            return code_page(request, user_code=typed, error=str(WRONG_CODE))
        throttle_success(attempt=attempt)
        grant, _client = found
        token = signing.dumps({"grant": grant.pk, "user": request.user.pk}, salt=CONFIRM_SALT)
        return redirect(f"{reverse('oidc_provider:device-confirm')}?{urlencode({'request': token})}")


@method_decorator(never_cache, name="dispatch")
class DeviceConfirmView(SignedInView):
    """Step 2: which app wants which access; the user allows or denies (RFC 8628 §5.4)."""

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        found = self._pending(request, request.GET.get("request", ""))
        if found is None:
            return code_page(request, error=str(STALE), status=400)
        grant, client = found
        if mfa_policy.second_factor_missing(request, client, self.auth_context):
            return mfa_policy.second_factor_redirect(request)
        return render(
            request,
            "oidc_provider/device_confirm.html",
            {
                "client": client,
                "scopes": scope_descriptions(grant.scope.split()),
                "user_code": user_code_display(grant.user_code),
                "request_token": request.GET["request"],
            },
        )

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        token = request.POST.get("request", "")
        found = self._pending(request, token)
        if found is None:
            return code_page(request, error=str(STALE), status=400)
        grant, client = found
        context = self.auth_context
        if mfa_policy.second_factor_missing(request, client, context):
            # The page asks for the second factor first, then shows the question again.
            return redirect(f"{request.path}?{urlencode({'request': token})}")
        allowed = "allow" in request.POST
        if allowed:
            answered = device_grant_approve(grant=grant, client=client, user=request.user, context=context)
        else:
            answered = device_grant_deny(grant=grant, client=client, user=request.user)
        if not answered:
            return code_page(request, error=str(STALE), status=400)
        return render(request, "oidc_provider/device_done.html", {"client": client, "allowed": allowed})

    @staticmethod
    def _pending(request: HttpRequest, token: str) -> tuple[DeviceGrant, Client] | None:
        """Return the grant the signed ``token`` names, if this user found it and it still waits."""
        try:
            data = signing.loads(
                token, salt=CONFIRM_SALT, max_age=settings.PORCHLIGHT["DEVICE_CODE_LIFETIME"]
            )
            grant_pk, user_pk = int(data["grant"]), data["user"]
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None
        if user_pk != request.user.pk:
            return None
        return device_grant_pending(pk=grant_pk)
