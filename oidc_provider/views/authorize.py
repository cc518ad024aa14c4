"""The authorization endpoint (OIDC Core 1.0 §3.1.2).

DOT's AuthorizationView sends every anonymous user to the login page before looking at the
request, answers ``prompt=none`` with a 500 or a page, ignores ``max_age`` and trusts the
posted consent form (DESIGN gaps 1, 2, 13). This view validates first, decides login and
consent from the session, and keeps the validated request server-side between the consent
page and its answer, so nothing the browser posts can change where the code goes.
"""

import re
import secrets
import time

from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.oauth2_validators import is_valid_resource_uri
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import add_params_to_uri

from accounts.authentication import AuthContext, get_auth_context

from .. import keys, mfa_policy
from ..claims import SCOPE_DESCRIPTIONS
from ..consent import consent_covers, consent_grant, consent_scopes
from ..models import Client, Grant

S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_NONCE_LENGTH = Grant._meta.get_field("nonce").max_length
PENDING_KEY = "porchlight_pending_authorizations"
MAX_PENDING = 10
PENDING_LIFETIME = 30 * 60
REAUTH_PARAM = "pl_reauth"
REAUTH_SALT = "porchlight.authorize.reauth"
# Validated request fields carried from the consent page to the code (never the raw query).
CARRIED = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "claims",
    "resource",
)


class AuthorizationError(Exception):
    """An error for the relying party, sent to its (validated) redirect_uri (OIDC Core §3.1.2.6)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def max_age_seconds(value: str | None) -> int | None:
    """Return a validated max_age as seconds, or None when there is no limit."""
    if value is None:
        return None
    digits = value.lstrip("0") or "0"
    # Beyond 12 digits (30,000+ years) there is no limit; int() of a few thousand digits
    # would raise ValueError (Python's integer string conversion limit).
    return int(digits) if len(digits) <= 12 else None


def error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """Render a plain error page; used when redirecting the error would be unsafe."""
    return render(request, "oidc_provider/error.html", {"message": message}, status=status)


def redirect_with(redirect_uri: str, client: Client | None, params: list[tuple[str, str]]) -> HttpResponse:
    # RFC 9207 §2: every authorization response, errors included, names the issuer.
    uri = add_params_to_uri(redirect_uri, [*params, ("iss", oauth2_settings.OIDC_ISS_ENDPOINT)])
    schemes = client.get_allowed_schemes() if client else oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
    return OAuth2ResponseRedirect(uri, schemes)


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(OAuthLibMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except FatalClientError as error:
            # Unknown client or unregistered redirect_uri: never redirect (RFC 6749 §4.1.2.1).
            return error_page(request, self._describe(error))
        except OAuthToolkitError as error:
            lib = error.oauthlib_error
            if not lib.redirect_uri:
                return error_page(request, self._describe(error))
            client = Client.objects.filter(client_id=request.GET.get("client_id")).first()
            return self._redirect_error(
                lib.redirect_uri, client, lib.error, lib.description, request.GET.get("state")
            )

        client: Client = credentials["request"].client
        if "openid" in scopes and not request.GET.get("redirect_uri"):
            # OIDC Core 1.0 §3.1.2.1: redirect_uri is required. With it missing there is no
            # URI the RP chose to send the error to, so tell the user (RFC 6749 §4.1.2.1).
            return error_page(request, "The app did not say where to return to.")
        carried = {key: credentials[key] for key in CARRIED if credentials.get(key) not in (None, "", [], {})}
        if "resource" in request.GET:
            carried["resource"] = request.GET.getlist("resource")
        try:
            prompt = self._check_request(request, scopes, carried)
            context = get_auth_context(request)
            if self._must_authenticate(request, prompt, context):
                if "none" in prompt:
                    raise AuthorizationError("login_required", "The user must sign in.")
                return redirect_to_login(self._login_return_url(request), "accounts:login")
            if mfa_policy.second_factor_missing(request, client, context):
                if "none" in prompt:
                    # OIDC Core 1.0 §3.1.2.6: the user must interact (give or enroll a second factor).
                    raise AuthorizationError("interaction_required", "The user must use a second factor.")
                return mfa_policy.second_factor_redirect(request)
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
            return self._redirect_error(
                carried["redirect_uri"], client, error.error, error.description, carried.get("state")
            )
        return self._consent_page(request, client, scopes, carried)

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = self._pop_pending(request, request.POST.get("request_id", ""))
        if pending is None:
            return error_page(
                request,
                "This sign-in request has expired or was already answered. Go back to the app and try again.",
            )
        client = Client.objects.filter(client_id=pending["credentials"]["client_id"]).first()
        context = get_auth_context(request)
        if client is None or context is None or pending["user"] != request.user.pk:
            return error_page(
                request, "This sign-in request is no longer valid. Go back to the app and try again."
            )
        credentials = pending["credentials"]
        if "allow" not in request.POST:
            return self._redirect_error(
                credentials["redirect_uri"],
                client,
                "access_denied",
                "The user declined.",
                credentials.get("state"),
            )
        consent_grant(user=request.user, client=client, scopes=pending["scopes"])
        return self._issue_code(request, client, pending["scopes"], credentials, context)

    # --- request checks -------------------------------------------------------------------

    def _check_request(self, request: HttpRequest, scopes: list[str], carried: dict) -> set[str]:
        """Apply the OIDC request rules DOT and oauthlib leave out; return the prompt values."""
        if "request" in request.GET:
            raise AuthorizationError("request_not_supported", "Request objects are not supported.")
        if "request_uri" in request.GET:
            raise AuthorizationError("request_uri_not_supported", "request_uri is not supported.")
        if request.GET.get("response_mode", "query") != "query":
            raise AuthorizationError("invalid_request", "Only response_mode=query is supported.")
        # RFC 9700 §2.1.1: only S256; an omitted method means "plain" (RFC 7636 §4.3).
        if carried.get("code_challenge_method", "plain") != "S256":
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256.")
        # RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA-256(verifier)), 43 characters. Any
        # other value could never be redeemed (and a long one would not fit the grant row).
        if not S256_CHALLENGE.fullmatch(carried.get("code_challenge", "")):
            raise AuthorizationError("invalid_request", "code_challenge is not a base64url SHA-256 hash.")
        if len(carried.get("nonce", "")) > MAX_NONCE_LENGTH:
            raise AuthorizationError(
                "invalid_request", f"nonce is longer than {MAX_NONCE_LENGTH} characters."
            )
        # RFC 8707 §2: each resource is an absolute URI without a fragment; refuse a bad one
        # here rather than issue a code the token endpoint will refuse.
        if not all(is_valid_resource_uri(resource) for resource in carried.get("resource", [])):
            raise AuthorizationError("invalid_target", "resource must be an absolute URI.")
        prompt = set(request.GET.get("prompt", "").split())
        unknown = prompt - {"none", "login", "consent", "select_account"}
        if unknown:
            raise AuthorizationError("invalid_request", "Unsupported prompt value.")
        if "none" in prompt and len(prompt) > 1:
            raise AuthorizationError("invalid_request", "prompt=none cannot be combined with other values.")
        max_age = request.GET.get("max_age")
        if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
            raise AuthorizationError("invalid_request", "max_age must be a non-negative integer.")
        return prompt

    def _must_authenticate(self, request: HttpRequest, prompt: set[str], context: AuthContext | None) -> bool:
        """Decide whether the user must (re-)authenticate for this request (OIDC Core §3.1.2.1)."""
        if context is None:
            return True
        if self._reauthenticated_since_request(request, context):
            return False
        if "login" in prompt:
            return True
        max_age = max_age_seconds(request.GET.get("max_age"))
        if max_age is not None and time.time() - context.auth_time > max_age:
            return True
        hint = request.GET.get("id_token_hint")
        if hint:
            claims = keys.verify(hint, check_expiry=False)
            if not claims or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
                raise AuthorizationError("invalid_request", "id_token_hint is not an ID token issued here.")
            if claims.get("sub") != request.user.subject:
                return True
        return False

    def _reauthenticated_since_request(self, request: HttpRequest, context: AuthContext) -> bool:
        marker = request.GET.get(REAUTH_PARAM)
        if not marker:
            return False
        try:
            started = int(signing.loads(marker, salt=REAUTH_SALT, max_age=PENDING_LIFETIME))
        except (signing.BadSignature, TypeError, ValueError):
            return False
        return context.auth_time >= started

    def _login_return_url(self, request: HttpRequest) -> str:
        """Return this request's URL marked with when login was asked for.

        prompt=login and max_age stay in the URL: the signed marker satisfies them only after a
        login newer than the marker, so opening the URL without logging in cannot skip the
        re-authentication the RP asked for (OIDC Core 1.0 §3.1.2.1), and logging in cannot loop.
        """
        query = request.GET.copy()
        query[REAUTH_PARAM] = signing.dumps(int(time.time()), salt=REAUTH_SALT)
        return f"{request.path}?{query.urlencode()}"

    # --- consent --------------------------------------------------------------------------

    def _consent_page(
        self, request: HttpRequest, client: Client, scopes: list[str], carried: dict
    ) -> HttpResponse:
        request_id = self._store_pending(request, scopes, carried)
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
            },
        )

    def _store_pending(self, request: HttpRequest, scopes: list[str], carried: dict) -> str:
        now = int(time.time())
        pending = {
            key: value
            for key, value in request.session.get(PENDING_KEY, {}).items()
            if now - value.get("created", 0) < PENDING_LIFETIME
        }
        while len(pending) >= MAX_PENDING:
            pending.pop(min(pending, key=lambda key: pending[key]["created"]))
        request_id = secrets.token_urlsafe(16)
        pending[request_id] = {
            "scopes": scopes,
            "credentials": carried,
            "created": now,
            "user": request.user.pk,
        }
        request.session[PENDING_KEY] = pending
        return request_id

    def _pop_pending(self, request: HttpRequest, request_id: str) -> dict | None:
        pending = request.session.get(PENDING_KEY, {})
        entry = pending.pop(request_id, None) if isinstance(pending, dict) else None
        if entry is None:
            return None
        request.session[PENDING_KEY] = pending
        if time.time() - entry["created"] >= PENDING_LIFETIME:
            return None
        return entry

    # --- responses ------------------------------------------------------------------------

    def _issue_code(self, request, client: Client, scopes: list[str], carried: dict, context: AuthContext):
        credentials = {
            **carried,
            "auth_context": {
                "auth_time": context.auth_time,
                "amr": context.amr,
                "acr": context.acr,
                "session_id": context.session_id,
            },
        }
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except FatalClientError as error:
            return error_page(request, self._describe(error))
        except OAuthToolkitError as error:
            lib = error.oauthlib_error
            return self._redirect_error(
                carried["redirect_uri"], client, lib.error, lib.description, carried.get("state")
            )
        return OAuth2ResponseRedirect(uri, client.get_allowed_schemes())

    def _redirect_error(
        self, redirect_uri: str, client, error: str, description: str | None, state: str | None
    ):
        params = [("error", error)]
        if description:
            params.append(("error_description", description))
        if state:
            params.append(("state", state))
        return redirect_with(redirect_uri, client, params)

    @staticmethod
    def _describe(error: OAuthToolkitError) -> str:
        lib = error.oauthlib_error
        reasons = {
            "invalid_client_id": "This app is not registered here.",
            "invalid_redirect_uri": "The app asked to return to an address it has not registered.",
            "mismatching_redirect_uri": "The app asked to return to an address it has not registered.",
            "missing_redirect_uri": "The app did not say where to return to.",
            "missing_client_id": "The request does not name an app.",
        }
        return reasons.get(lib.error, lib.description or "The app sent an invalid sign-in request.")
