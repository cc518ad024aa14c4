"""The authorization endpoint (OIDC Core 1.0 §3.1.2): HTTP glue around authorization.py.

DOT's AuthorizationView sends every anonymous user to the login page before looking at the
request, answers ``prompt=none`` with a 500 or a page, ignores ``max_age`` and trusts the
posted consent form (docs/design.md, gaps 1, 2, 13). This view validates first, decides login
and consent from the session, and answers the consent page from the request kept server-side.
"""

import time

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import urldecode

from accounts.authentication import AuthContext, get_auth_context

from .. import keys, mfa_policy
from ..authorization import (
    CARRIED,
    AuthorizationError,
    AuthorizationParams,
    authorization_check,
    authorization_response,
    pending_pop,
    pending_store,
)
from ..claims import SCOPE_DESCRIPTIONS
from ..consent import consent_covers, consent_grant, consent_scopes
from ..models import Client
from ..names import host_shown


def error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """Render a plain error page; used when redirecting the error would be unsafe."""
    return render(request, "oidc_provider/error.html", {"message": message}, status=status)


def _csrf_failure(request: HttpRequest) -> HttpResponse | None:
    return CsrfViewMiddleware(lambda _request: None).process_view(request, None, (), {})


# A POSTed authorization request comes from the RP's page, not ours: it is validated like a GET
# and is no CSRF target (it changes nothing by itself). The consent answer is checked below.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AuthorizeView(OAuthLibMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.authorize(request, AuthorizationParams.from_request(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if "request_id" in request.POST:
            return _csrf_failure(request) or self.consent_answer(request)
        return self.authorize(request, AuthorizationParams.from_request(request))

    def authorize(self, request: HttpRequest, params: AuthorizationParams) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except FatalClientError as error:
            # Unknown client or unregistered redirect_uri: never redirect (RFC 6749 §4.1.2.1).
            return error_page(request, self._describe(error, params))
        except OAuthToolkitError as error:
            lib = error.oauthlib_error
            if not lib.redirect_uri:
                return error_page(request, self._describe(error, params))
            client = Client.objects.filter(client_id=params.get("client_id")).first()
            return self._error(request, params, lib.redirect_uri, client, lib.error, lib.description)

        client: Client = credentials["request"].client
        if "openid" in scopes and not params.get("redirect_uri"):
            # OIDC Core 1.0 §3.1.2.1: redirect_uri is required. With it missing there is no
            # URI the RP chose to send the error to, so tell the user (RFC 6749 §4.1.2.1).
            return error_page(request, "The app did not say where to return to.")
        carried = {key: credentials[key] for key in CARRIED if credentials.get(key) not in (None, "", [], {})}
        carried["response_mode"] = params.response_mode
        if "resource" in params:
            carried["resource"] = params.resources
        try:
            authorization_check(params, client, scopes, carried)
            prompt = params.prompt
            context = get_auth_context(request)
            if self._must_authenticate(request, params, context):
                if "none" in prompt:
                    raise AuthorizationError("login_required", "The user must sign in.")
                return redirect_to_login(
                    params.return_url(request.path, reauth_requested=True), "accounts:login"
                )
            if mfa_policy.second_factor_missing(
                request, client, context, acr_values=params.get("acr_values")
            ):
                if "none" in prompt:
                    # OIDC Core 1.0 §3.1.2.6: the user must interact (give or enroll a second factor).
                    raise AuthorizationError("interaction_required", "The user must use a second factor.")
                return mfa_policy.second_factor_redirect(request, next_url=params.return_url(request.path))
            if client.skip_authorization and "consent" not in prompt:
                return self._issue_code(request, client, scopes, carried, context)
            # OIDC Core 1.0 §3.1.2.4: consent the user already gave for every requested scope
            # is not asked again, unless the RP asks for it with prompt=consent (§3.1.2.1).
            if "consent" not in prompt and consent_covers(user=request.user, client=client, scopes=scopes):
                return self._issue_code(request, client, scopes, carried, context)
            if "none" in prompt:
                # OIDC Core 1.0 §3.1.2.6: consent is missing and prompt=none forbids asking.
                raise AuthorizationError("consent_required", "The user has not consented to this client.")
        except AuthorizationError as error:
            return self._error(
                request, params, carried["redirect_uri"], client, error.error, error.description
            )
        return self._consent_page(request, client, scopes, carried)

    def consent_answer(self, request: HttpRequest) -> HttpResponse:
        pending = pending_pop(request, request.POST.get("request_id", ""))
        if pending is None:
            return error_page(
                request,
                "This sign-in request has expired or was already answered. Go back to the app and try again.",
            )
        credentials = pending["credentials"]
        client = Client.objects.filter(client_id=credentials["client_id"]).first()
        context = get_auth_context(request)
        if client is None or context is None or pending["user"] != request.user.pk:
            return error_page(
                request, "This sign-in request is no longer valid. Go back to the app and try again."
            )
        if "allow" not in request.POST:
            return authorization_response(
                request,
                redirect_uri=credentials["redirect_uri"],
                client=client,
                params=self._error_params("access_denied", "The user declined.", credentials.get("state")),
                response_mode=credentials.get("response_mode", "query"),
            )
        consent_grant(user=request.user, client=client, scopes=pending["scopes"], request=request)
        return self._issue_code(request, client, pending["scopes"], credentials, context)

    # --- request checks -------------------------------------------------------------------

    def _must_authenticate(
        self, request: HttpRequest, params: AuthorizationParams, context: AuthContext | None
    ) -> bool:
        """Decide whether the user must (re-)authenticate for this request (OIDC Core §3.1.2.1)."""
        if context is None:
            return True
        if params.reauthenticated_since_requested(context.auth_time):
            return False
        if "login" in params.prompt:
            return True
        max_age = params.max_age
        if max_age is not None and time.time() - context.auth_time > max_age:
            return True
        hint = params.get("id_token_hint")
        if hint:
            claims = keys.verify(hint, check_expiry=False)
            if not claims or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
                raise AuthorizationError("invalid_request", "id_token_hint is not an ID token issued here.")
            if claims.get("sub") != request.user.subject:
                return True
        return False

    # --- consent --------------------------------------------------------------------------

    def _consent_page(
        self, request: HttpRequest, client: Client, scopes: list[str], carried: dict
    ) -> HttpResponse:
        request_id = pending_store(request, scopes=scopes, carried=carried)
        descriptions = [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in scopes]
        return render(
            request,
            "oidc_provider/consent.html",
            {
                "client": client,
                "scopes": descriptions,
                "request_id": request_id,
                # Scopes allowed before, so the page can point out what is new.
                "granted": consent_scopes(user=request.user, client=client),
                # Where the answer is sent: unlike the app's name, no other app can claim it.
                "redirect_host": host_shown(carried["redirect_uri"]),
            },
        )

    # --- responses ------------------------------------------------------------------------

    def _issue_code(self, request, client: Client, scopes: list[str], carried: dict, context: AuthContext):
        credentials = {
            **{key: value for key, value in carried.items() if key != "response_mode"},
            "auth_context": {
                "auth_time": context.auth_time,
                "amr": context.amr,
                "acr": context.acr,
                "session_id": context.session_id,
            },
        }
        response_mode = carried.get("response_mode", "query")
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except FatalClientError as error:
            return error_page(request, self._describe(error))
        except OAuthToolkitError as error:
            lib = error.oauthlib_error
            return authorization_response(
                request,
                redirect_uri=carried["redirect_uri"],
                client=client,
                params=self._error_params(lib.error, lib.description, carried.get("state")),
                response_mode=response_mode,
            )
        if response_mode == "query":
            return OAuth2ResponseRedirect(uri, client.get_allowed_schemes())
        # The code and state oauthlib added to the redirect URI, posted instead.
        issued = dict(urldecode(uri.partition("?")[2]))
        params = [("code", issued["code"])]
        if carried.get("state"):
            params.append(("state", carried["state"]))
        return authorization_response(
            request,
            redirect_uri=carried["redirect_uri"],
            client=client,
            params=params,
            response_mode=response_mode,
        )

    def _error(
        self, request, params: AuthorizationParams, redirect_uri: str, client, error: str, description
    ):
        return authorization_response(
            request,
            redirect_uri=redirect_uri,
            client=client,
            params=self._error_params(error, description, params.get("state")),
            response_mode=params.response_mode,
        )

    @staticmethod
    def _error_params(error: str, description: str | None, state: str | None) -> list[tuple[str, str]]:
        params = [("error", error)]
        if description:
            params.append(("error_description", description))
        if state:
            params.append(("state", state))
        return params

    @staticmethod
    def _describe(error: OAuthToolkitError, params: AuthorizationParams | None = None) -> str:
        lib = error.oauthlib_error
        redirect_uri = params.get("redirect_uri") if params else None
        unregistered = "The app asked to return to an address it has not registered"
        reasons = {
            "invalid_client_id": "This app is not registered here.",
            "invalid_redirect_uri": f"{unregistered}: {redirect_uri}."
            if redirect_uri
            else f"{unregistered}.",
            "mismatching_redirect_uri": f"{unregistered}: {redirect_uri}."
            if redirect_uri
            else f"{unregistered}.",
            "missing_redirect_uri": "The app did not say where to return to.",
            "missing_client_id": "The request does not name an app.",
        }
        return reasons.get(lib.error, lib.description or "The app sent an invalid sign-in request.")
