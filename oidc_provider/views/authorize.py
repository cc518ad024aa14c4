"""The authorization endpoint (OIDC Core 1.0 §3.1.2): HTTP glue around authorization.py.

DOT's AuthorizationView sends every anonymous user to the login page before looking at the
request, answers ``prompt=none`` with a 500 or a page, ignores ``max_age`` and trusts the
posted consent form (docs/design.md, gaps 1, 2, 13). This view validates first, asks prompt.py
what the user must still do, and keeps the request server-side while the consent page is shown;
the page's answer goes to its own view (views/consent.py), with Django's CSRF protection.
"""

from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import urldecode
from oauthlib.oauth2.rfc6749.errors import (
    InvalidClientIdError,
    InvalidRedirectURIError,
    MismatchingRedirectURIError,
    MissingClientIdError,
    MissingRedirectURIError,
)

from accounts.authentication import AuthContext, get_auth_context
from accounts.languages import ui_locales_forget, ui_locales_use

from .. import mfa_policy
from ..apis import api_scope_names, consent_section
from ..authorization import (
    CARRIED,
    CREATED_PARAM,
    REAUTH_PARAM,
    AuthorizationError,
    AuthorizationParams,
    PromptUnsupported,
    authorization_audience,
    authorization_check,
    authorization_response,
    pending_store,
)
from ..claims import claim_description, scope_description
from ..consent import consent_scopes
from ..models import Client
from ..names import host_shown
from ..prompt import CREATE, LOGIN, SECOND_FACTOR, SELECT_ACCOUNT, interaction_needed
from ..request_objects import RequestObjectError, request_object_params
from ..requested_claims import claims_loaded, claims_to_consent
from ..response_types import front_channel
from .select_account import login_redirect, select_account_page, signup_redirect


class Failure(Protocol):
    """An error for the RP: oauthlib's, an AuthorizationError, or an Interaction prompt=none forbids."""

    @property
    def error(self) -> str: ...
    @property
    def description(self) -> str | None: ...


def error_page(
    request: HttpRequest, message: str, status: int = 400, *, problem: str = "", code: str = ""
) -> HttpResponse:
    """Render a plain error page; used when redirecting the error would be unsafe.

    ``problem`` picks the page's advice ("unknown_app", "return_address", or general); ``code``
    is the technical error, shown small for the app's developer.
    """
    context = {"message": message, "problem": problem, "code": code}
    return render(request, "oidc_provider/error.html", context, status=status)


def fatal_error_page(request: HttpRequest, error: OAuthToolkitError, message: str) -> HttpResponse:
    """Render the page for an error that must not go back to the app (RFC 6749 §4.1.2.1)."""
    lib = error.oauthlib_error
    if isinstance(lib, InvalidClientIdError | MissingClientIdError):
        problem = "unknown_app"
    elif isinstance(lib, InvalidRedirectURIError | MismatchingRedirectURIError):
        problem = "return_address"
    else:
        problem = ""
    code = f"{lib.error}: {lib.description}" if lib.description else lib.error
    return error_page(request, message, problem=problem, code=code)


class CodeResponseMixin(OAuthLibMixin):
    """Issue the code for a validated request, or send the RP an error, in its response mode."""

    def _issue_code(
        self,
        request: HttpRequest,
        client: Client,
        scopes: list[str],
        carried: dict[str, Any],
        context: AuthContext,
    ) -> HttpResponse:
        credentials = {
            **{key: value for key, value in carried.items() if key != "response_mode"},
            # oauthlib sets each credential on its request: the validator stores this on the grant.
            "auth_context": {
                "auth_time": context.auth_time,
                "amr": context.amr,
                "acr": context.acr,
                "session_id": context.session_id,
            },
        }
        response_mode = carried.get("response_mode", "query")
        # The request is answered: its ui_locales no longer chooses the language.
        ui_locales_forget(request)
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except FatalClientError as error:
            return fatal_error_page(request, error, self._describe(error))
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
        if front_channel(carried.get("response_type")):
            # The implicit and hybrid flows: what oauthlib put in the fragment (tokens, code,
            # state), sent in the response mode asked for, which names the issuer itself.
            params = [(key, value) for key, value in urldecode(uri.partition("#")[2]) if key != "iss"]
        else:
            # The code and state oauthlib added to the redirect URI, posted instead.
            params = [("code", dict(urldecode(uri.partition("?")[2]))["code"])]
            if carried.get("state"):
                params.append(("state", carried["state"]))
        return authorization_response(
            request,
            redirect_uri=carried["redirect_uri"],
            client=client,
            params=params,
            response_mode=response_mode,
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
        unregistered = (
            _("The app asked to return to an address it has not registered: %(uri)s.") % {"uri": redirect_uri}
            if redirect_uri
            else _("The app asked to return to an address it has not registered.")
        )
        # oauthlib's fatal errors all say "invalid_request": told apart by their class.
        reasons: list[tuple[type[Exception], str]] = [
            (
                InvalidClientIdError,
                _("The app that sent you here is not registered here, or no longer is."),
            ),
            (MissingClientIdError, _("The app that sent you here did not say which app it is.")),
            (InvalidRedirectURIError, unregistered),
            (MismatchingRedirectURIError, unregistered),
            (MissingRedirectURIError, _("The app did not say where to return to.")),
        ]
        found = next((text for kind, text in reasons if isinstance(lib, kind)), None)
        # oauthlib's own descriptions are protocol English, for the app's developer (shown small).
        return found or lib.description or _("The app sent an invalid sign-in request.")


# OIDC Core 1.0 §3.1.2.1: an authorization request may be POSTed, from the RP's page, not ours.
# It is validated like a GET and changes nothing by itself, so it is no CSRF target; the one
# answer that does change something, the consent, is posted to ConsentAnswerView.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AuthorizeView(CodeResponseMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.authorize(request, AuthorizationParams.from_request(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.authorize(request, AuthorizationParams.from_request(request))

    def authorize(self, request: HttpRequest, params: AuthorizationParams) -> HttpResponse:
        try:
            # OIDC Core 1.0 §6, RFC 9101: a request object's parameters, merged (request_objects.py).
            merged = request_object_params(params.params, keep=(REAUTH_PARAM, CREATED_PARAM))
        except RequestObjectError as error:
            named = Client.objects.filter(client_id=params.get("client_id") or "").first()
            redirect_uri = self._redirect_uri_checked(named, params)
            if not redirect_uri:
                return error_page(request, error.description)
            return self._error(request, params, redirect_uri, named, error)
        if merged is not None:
            params = AuthorizationParams(merged, sent=params.params)
            # DOT reads the request itself: it now carries the merged parameters as a GET query.
            query = merged.urlencode()
            request.method = "GET"
            request.GET, request.POST = QueryDict(query), QueryDict()
            request.META["QUERY_STRING"] = query
        # OIDC Core 1.0 §3.1.2.1: ui_locales, the person's languages for the pages of this request
        # (sign-in, second factor, consent), kept until the answer goes back (accounts/languages.py).
        ui_locales_use(request, params.get("ui_locales"))
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except FatalClientError as error:
            # Unknown client or unregistered redirect_uri: never redirect (RFC 6749 §4.1.2.1).
            return fatal_error_page(request, error, self._describe(error, params))
        except OAuthToolkitError as error:
            lib = error.oauthlib_error
            named = Client.objects.filter(client_id=params.get("client_id")).first()
            redirect_uri = lib.redirect_uri or self._redirect_uri_checked(named, params)
            if not redirect_uri:
                return fatal_error_page(request, error, self._describe(error, params))
            return self._error(request, params, redirect_uri, named, lib)

        client: Client = credentials["request"].client
        if "openid" in scopes and not params.get("redirect_uri"):
            # OIDC Core 1.0 §3.1.2.1: redirect_uri is required. With it missing there is no
            # URI the RP chose to send the error to, so tell the user (RFC 6749 §4.1.2.1).
            return error_page(request, _("The app did not say where to return to."))
        carried = {key: credentials[key] for key in CARRIED if credentials.get(key) not in (None, "", [], {})}
        carried["response_mode"] = params.response_mode
        if "resource" in params:
            carried["resource"] = params.resources
        redirect_uri, context = carried["redirect_uri"], get_auth_context(request)
        try:
            authorization_check(params, client, scopes, carried)
            authorization_audience(client, scopes, carried)
            interaction = interaction_needed(request, params, client, scopes, context)
        except PromptUnsupported as error:
            return error_page(
                request,
                _("The app asked to create an account, but this service does not let people sign up."),
                code=f"{error.error}: {error.description}",
            )
        except AuthorizationError as error:
            return self._error(request, params, redirect_uri, client, error)
        if interaction is None:
            assert context is not None  # Without one, prompt.py asks for a sign-in.
            return self._issue_code(request, client, scopes, carried, context)
        if "none" in params.prompt:
            # OIDC Core 1.0 §3.1.2.6: prompt=none forbids asking the user; the RP learns what was needed.
            return self._error(request, params, redirect_uri, client, interaction)
        if interaction is CREATE:
            return signup_redirect(params.created_url(request.path))
        if interaction is LOGIN:
            return login_redirect(params.return_url(request.path, reauth_requested=True), params.login_hint)
        if interaction is SELECT_ACCOUNT:
            return select_account_page(request, client, params)
        if interaction is SECOND_FACTOR:
            return mfa_policy.second_factor_redirect(request, next_url=params.return_url(request.path))
        return self._consent_page(request, client, scopes, carried)

    @staticmethod
    def _redirect_uri_checked(client: Client | None, params: AuthorizationParams) -> str | None:
        """Return the request's redirect_uri if ``client`` registered it, for an error oauthlib raised bare.

        oauthlib raises a malformed claims parameter (OIDC Core 1.0 §5.5) as invalid_request
        without its request, so without the redirect URI it had checked just before; the error
        still goes to the client (§3.1.2.6), at a URI checked here again.
        """
        redirect_uri = params.get("redirect_uri")
        if client is None or not redirect_uri or not client.redirect_uri_allowed(redirect_uri):
            return None
        return redirect_uri

    # --- consent --------------------------------------------------------------------------

    def _consent_page(
        self, request: HttpRequest, client: Client, scopes: list[str], carried: dict[str, Any]
    ) -> HttpResponse:
        user = request.user
        assert user.is_authenticated  # prompt.py asks for consent only once someone signed in.
        request_id = pending_store(request, scopes=scopes, carried=carried)
        # OpenID Connect's scopes (and staff's identity scopes) first; an API's scopes under its
        # name, with what it will see.
        api_scopes = api_scope_names(scopes)
        descriptions = [(scope, scope_description(scope)) for scope in scopes if scope not in api_scopes]
        api = consent_section(user=user, client=client, scopes=scopes, resources=carried.get("resource", []))
        # Claims the app asked for by name, beyond what the scopes share (OIDC Core 1.0 §5.5).
        claims = claims_to_consent(claims_loaded(carried.get("claims")), scopes)
        return render(
            request,
            "oidc_provider/consent.html",
            {
                "client": client,
                "scopes": descriptions,
                "api": api,
                "claims": [(claim, claim_description(claim)) for claim in claims],
                "request_id": request_id,
                # Scopes allowed before, so the page can point out what is new.
                "granted": consent_scopes(user=user, client=client),
                # Where the answer is sent: unlike the app's name, no other app can claim it.
                "redirect_host": host_shown(carried["redirect_uri"]),
            },
        )

    # --- responses ------------------------------------------------------------------------

    def _error(
        self,
        request: HttpRequest,
        params: AuthorizationParams,
        redirect_uri: str,
        client: Client | None,
        failure: Failure,
    ) -> HttpResponse:
        return authorization_response(
            request,
            redirect_uri=redirect_uri,
            client=client,
            params=self._error_params(failure.error, failure.description, params.get("state")),
            response_mode=params.response_mode,
        )
