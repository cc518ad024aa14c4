"""The authorization request (OIDC Core 1.0 §3.1.2.1): parsed once, checked, answered.

A request arrives as a GET query or a POSTed form (§3.1.2.1: both MUST be supported) and is
parsed once into ``AuthorizationParams``. ``authorization_check`` applies the rules DOT and
oauthlib leave out. Between the consent page and its answer the validated request waits in the
session (``pending_store``/``pending_pop``), so nothing the browser posts can change where the
code goes. ``authorization_response`` answers in the requested response mode: a redirect with a
query (RFC 6749 §4.1.2) or a fragment (the implicit and hybrid flows' default, response_types.py),
or an auto-submitting form (OAuth 2.0 Form Post Response Mode).

The constants here are what the code enforces; discovery lists them (metadata.py).
"""

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypedDict, cast
from urllib.parse import urlsplit

from django.core import signing
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.oauth2_validators import is_valid_resource_uri
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import add_params_to_uri

from accounts.forms import username_hint
from accounts.signup.policy import signup_open

from .apis import ApiTargetError, api_target
from .models import Client, Grant
from .requested_claims import (
    ClaimsRequest,
    ClaimsRequestError,
    claims_request_check,
    claims_request_parse,
    claims_stored,
)
from .response_types import (
    FRONT_CHANNEL_MODES,
    default_response_mode,
    front_channel,
    response_type_normalized,
    returns_code,
    returns_id_token,
)
from .scopes import PorchlightScopes

# OIDC Core 1.0 §3.1.2.1 prompt values this provider acts on.
PROMPT_VALUES = ("none", "login", "consent", "select_account")
# Prompt Create 1.0 §4: the user wants to create an account; acted on only while sign-up is open.
PROMPT_CREATE = "create"
# OAuth 2.0 Multiple Response Type Encoding Practices §2.1 and Form Post Response Mode §2, for
# the code flow; the implicit and hybrid flows' are response_types.FRONT_CHANNEL_MODES.
RESPONSE_MODES = ("query", "form_post")
# RFC 9700 §2.1.1: S256 only ("plain" would leak the verifier with the challenge).
CODE_CHALLENGE_METHODS = ("S256",)
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# A CharField's, so an int.
MAX_NONCE_LENGTH = cast(int, Grant._meta.get_field("nonce").max_length)

PENDING_KEY = "porchlight_pending_authorizations"
MAX_PENDING = 10
PENDING_LIFETIME = 30 * 60
REAUTH_PARAM = "pl_reauth"
REAUTH_SALT = "porchlight.authorize.reauth"
CREATED_PARAM = "pl_created"
CREATED_SALT = "porchlight.authorize.created"
SELECTED_PARAM = "pl_selected"
SELECTED_SALT = "porchlight.authorize.selected"
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


class PendingAuthorization(TypedDict):
    """A validated request waiting in the session for its consent page's answer."""

    scopes: list[str]
    # The CARRIED fields and the response mode.
    credentials: dict[str, Any]
    created: int
    # Who was asked: only their answer counts.
    user: int | None


def prompt_values() -> tuple[str, ...]:
    """Return the prompt values this provider acts on now (discovery's ``prompt_values_supported``)."""
    return (*PROMPT_VALUES, PROMPT_CREATE) if signup_open() else PROMPT_VALUES


class AuthorizationError(Exception):
    """An error for the relying party, sent to its (validated) redirect_uri (OIDC Core §3.1.2.6)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class PromptUnsupported(AuthorizationError):
    """An error answered with an HTTP 400 page rather than at the redirect_uri (Prompt Create 1.0 §4.1)."""


@dataclass(frozen=True)
class AuthorizationParams:
    """The parameters of one authorization request, from its query or its form body."""

    params: QueryDict
    # The parameters as sent, when a request object supplied ``params`` (request_objects.py):
    # what the sign-in page returns to, so the object is checked again on return.
    sent: QueryDict | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> "AuthorizationParams":
        return cls((request.POST if request.method == "POST" else request.GET).copy())

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.params

    @property
    def requested_response_mode(self) -> str | None:
        """Return the response mode asked for (the response type's default when none is), or None
        if it is not supported for the response type.

        A response with a token in it never goes in the query (Multiple Response Types §5).
        """
        response_type = self.params.get("response_type")
        mode = self.params.get("response_mode") or default_response_mode(response_type)
        allowed = FRONT_CHANNEL_MODES if front_channel(response_type) else RESPONSE_MODES
        return mode if mode in allowed else None

    @property
    def response_mode(self) -> str:
        """Return the response mode to answer in: the one asked for, or the response type's default.

        An unsupported mode is refused (``authorization_check``), and that error, like any other
        found before the mode is known to be good, is answered in the default mode: the query,
        or the fragment for a response type with a token in it.
        """
        return self.requested_response_mode or default_response_mode(self.params.get("response_type"))

    @property
    def prompt(self) -> set[str]:
        return set((self.params.get("prompt") or "").split())

    @property
    def max_age(self) -> int | None:
        """Return max_age in seconds, or None when there is no limit; refuse a malformed one.

        OIDC Core 1.0 §3.1.2.1: the allowable elapsed time in seconds since the user last
        authenticated, so a non-negative integer.
        """
        value = self.params.get("max_age")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise AuthorizationError("invalid_request", "max_age must be a non-negative integer.")
        digits = value.lstrip("0") or "0"
        # Beyond 12 digits (30,000+ years) there is no limit; int() of a few thousand digits
        # would raise ValueError (Python's integer string conversion limit).
        return int(digits) if len(digits) <= 12 else None

    @cached_property
    def claims_request(self) -> ClaimsRequest:
        """Return the claims parameter (OIDC Core 1.0 §5.5) parsed; refuse a malformed one.

        It is OpenID Connect's: in a plain OAuth request (no openid scope) it means nothing.
        """
        if "openid" not in (self.params.get("scope") or "").split():
            return ClaimsRequest()
        try:
            return claims_request_parse(self.params.get("claims"))
        except ClaimsRequestError as error:
            raise AuthorizationError(error.error, error.description) from None

    def claims_asked(self, client: Client, scopes: list[str]) -> dict[str, list[str]]:
        """Return the claims this request asks ``client`` be given by name, as grants and tokens keep them."""
        if "openid" not in scopes:
            return claims_stored(ClaimsRequest(), [])
        return claims_stored(self.claims_request, PorchlightScopes().get_available_scopes(client))

    @property
    def resources(self) -> list[str]:
        return self.params.getlist("resource")

    def return_url(self, path: str, *, reauth_requested: bool = False) -> str:
        """Return this request as a GET URL on ``path``, to come back to after sign-in.

        With ``reauth_requested`` the URL carries a signed note of when sign-in was asked for:
        prompt=login and max_age stay in the URL, and the note satisfies them only after a
        sign-in newer than it, so opening the URL without signing in cannot skip the
        re-authentication the RP asked for (OIDC Core 1.0 §3.1.2.1), and signing in cannot loop.
        """
        query = (self.sent if self.sent is not None else self.params).copy()
        if reauth_requested:
            query[REAUTH_PARAM] = signing.dumps(int(time.time()), salt=REAUTH_SALT)
        return f"{path}?{query.urlencode()}"

    def created_url(self, path: str) -> str:
        """Return this request as a GET URL on ``path`` noting that the account was made for it.

        Prompt Create 1.0 §4: once the account exists the flow goes on as an authentication. The
        note is signed, and carried beside a request object too (which still asks for create), so
        the sign-up page is not shown again.
        """
        query = (self.sent if self.sent is not None else self.params).copy()
        query[CREATED_PARAM] = signing.dumps(1, salt=CREATED_SALT)
        return f"{path}?{query.urlencode()}"

    def account_created(self) -> bool:
        """Return whether prompt=create was already answered for this request (see created_url)."""
        marker = self.params.get(CREATED_PARAM)
        if not marker:
            return False
        try:
            return bool(signing.loads(marker, salt=CREATED_SALT) == 1)
        except signing.BadSignature:
            return False

    def selected_url(self, path: str, user_pk: int) -> str:
        """Return this request as a GET URL on ``path`` noting that ``user_pk`` chose to continue.

        prompt=select_account (OIDC Core 1.0 §3.1.2.1) is then satisfied for that user only; the
        note is signed, so the RP cannot put it in the request itself.
        """
        query = self.params.copy()
        query[SELECTED_PARAM] = signing.dumps(user_pk, salt=SELECTED_SALT)
        return f"{path}?{query.urlencode()}"

    def account_selected(self, user_pk: int, auth_time: int) -> bool:
        """Return whether the user chose an account for this request: by signing in for it, or on the page."""
        if self.reauthenticated_since_requested(auth_time):
            return True
        marker = self.params.get(SELECTED_PARAM)
        if not marker:
            return False
        try:
            return bool(signing.loads(marker, salt=SELECTED_SALT, max_age=PENDING_LIFETIME) == user_pk)
        except signing.BadSignature:
            return False

    @property
    def login_hint(self) -> str:
        """Return the login_hint (OIDC Core 1.0 §3.1.2.1) fit to pre-fill a username, else ""."""
        return username_hint(self.params.get("login_hint"))

    def reauthenticated_since_requested(self, auth_time: int) -> bool:
        """Return whether the session signed in after this request asked for it (see return_url)."""
        marker = self.params.get(REAUTH_PARAM)
        if not marker:
            return False
        try:
            started = int(signing.loads(marker, salt=REAUTH_SALT, max_age=PENDING_LIFETIME))
        except (signing.BadSignature, TypeError, ValueError):
            return False
        return auth_time >= started


def authorization_audience(client: Client, scopes: list[str], carried: dict[str, Any]) -> None:
    """Match the request's API scopes to one API the client may use, which becomes its resource.

    The rules are apis.py's; a refusal goes to the RP (RFC 6749 §4.1.2.1 invalid_scope, RFC 8707
    §2 invalid_target). The resource, asked for or inferred from the scopes, is stored with the
    code, so the token is for that API (RFC 8707 §2.2).
    """
    try:
        target = api_target(client=client, scopes=scopes, resources=carried.get("resource", []))
    except ApiTargetError as error:
        raise AuthorizationError(error.error, error.description) from None
    if target.resources:
        carried["resource"] = target.resources


def authorization_check(
    params: AuthorizationParams, client: Client, scopes: list[str], carried: dict[str, Any]
) -> None:
    """Apply the OIDC and PKCE rules DOT and oauthlib leave out; raise AuthorizationError.

    max_age, which only the prompt decision reads, is refused there when malformed (prompt.py).
    """
    response_type = response_type_normalized(params.get("response_type")) or ""
    if params.requested_response_mode is None:
        if front_channel(response_type):
            # Multiple Response Types §5: tokens MUST NOT be sent in the query.
            raise AuthorizationError("invalid_request", "response_mode must be fragment or form_post.")
        raise AuthorizationError("invalid_request", "response_mode must be query or form_post.")
    carried["response_type"] = response_type
    if returns_id_token(response_type):
        # OIDC Core 1.0 §3.2.2.1, §3.3.2.11: an ID token from the authorization endpoint needs
        # the openid scope, and a nonce to bind it to the RP's session.
        if "openid" not in scopes:
            raise AuthorizationError("invalid_request", "response_type id_token needs the openid scope.")
        if not carried.get("nonce"):
            raise AuthorizationError("invalid_request", "nonce is required when an ID token is returned.")
    # The implicit flow issues no code for PKCE to bind (RFC 7636 §1); the nonce binds its ID token.
    if returns_code(response_type):
        _pkce_check(client, scopes, carried)
    if len(carried.get("nonce", "")) > MAX_NONCE_LENGTH:
        raise AuthorizationError("invalid_request", f"nonce is longer than {MAX_NONCE_LENGTH} characters.")
    # RFC 8707 §2: each resource is an absolute URI without a fragment; refuse a bad one here
    # rather than issue a code the token endpoint will refuse.
    if not all(is_valid_resource_uri(resource) for resource in carried.get("resource", [])):
        raise AuthorizationError("invalid_target", "resource must be an absolute URI.")
    if "openid" in scopes:
        try:
            claims_request_check(params.claims_request)
        except ClaimsRequestError as error:
            raise AuthorizationError(error.error, error.description) from None
    # What the grant keeps of the claims parameter (oauthlib sets it on its request from these
    # credentials, and DOT stores it with the code): never the raw parameter.
    carried["claims"] = params.claims_asked(client, scopes)
    prompt = params.prompt
    if PROMPT_CREATE in prompt and not signup_open():
        # Prompt Create 1.0 §4.1: a prompt value not in prompt_values_supported gets an HTTP 400
        # with invalid_request, naming the value.
        raise PromptUnsupported("invalid_request", "Unsupported prompt value: create (sign-up is not open).")
    if prompt - set(prompt_values()):
        raise AuthorizationError("invalid_request", "Unsupported prompt value.")
    if "none" in prompt and len(prompt) > 1:
        raise AuthorizationError("invalid_request", "prompt=none cannot be combined with other values.")


def _pkce_check(client: Client, scopes: list[str], carried: dict[str, Any]) -> None:
    """Apply RFC 7636 and RFC 9700 §2.1.1 to a request that will issue a code."""
    challenge = carried.get("code_challenge")
    if challenge is None:
        # RFC 9700 §2.1.1: PKCE always for public clients and, unless staff turned it off for
        # one, for confidential ones; such a client must then bind the code with a nonce.
        if client.pkce_required:
            raise AuthorizationError("invalid_request", "code_challenge is required (PKCE, S256).")
        if "openid" in scopes and not carried.get("nonce"):
            raise AuthorizationError("invalid_request", "nonce is required when PKCE is not used.")
    else:
        # RFC 7636 §4.3: an omitted method means "plain".
        if carried.get("code_challenge_method", "plain") not in CODE_CHALLENGE_METHODS:
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256.")
        # RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA-256(verifier)), 43 characters. Any
        # other value could never be redeemed (and a long one would not fit the grant row).
        if not S256_CHALLENGE.fullmatch(challenge):
            raise AuthorizationError("invalid_request", "code_challenge is not a base64url SHA-256 hash.")


# --- the pending request, between the consent page and its answer ------------------------------


def pending_store(request: HttpRequest, *, scopes: list[str], carried: dict[str, Any]) -> str:
    """Keep a validated request in the session for its consent page; return its id."""
    now = int(time.time())
    pending: dict[str, PendingAuthorization] = {
        key: value
        for key, value in request.session.get(PENDING_KEY, {}).items()
        if now - value.get("created", 0) < PENDING_LIFETIME
    }
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda key: pending[key]["created"]))
    request_id = secrets.token_urlsafe(16)
    pending[request_id] = {"scopes": scopes, "credentials": carried, "created": now, "user": request.user.pk}
    request.session[PENDING_KEY] = pending
    return request_id


def pending_pop(request: HttpRequest, request_id: str) -> PendingAuthorization | None:
    """Take the pending request ``request_id`` out of the session; None if unknown or too old."""
    pending = request.session.get(PENDING_KEY, {})
    entry: PendingAuthorization | None = pending.pop(request_id, None) if isinstance(pending, dict) else None
    if entry is None:
        return None
    request.session[PENDING_KEY] = pending
    if time.time() - entry["created"] >= PENDING_LIFETIME:
        return None
    return entry


# --- responses ------------------------------------------------------------------------------


def authorization_response(
    request: HttpRequest,
    *,
    redirect_uri: str,
    client: Client | None,
    params: list[tuple[str, str]],
    response_mode: str = "query",
) -> HttpResponse:
    """Send ``params`` to the RP at ``redirect_uri`` in ``response_mode``, naming the issuer."""
    # RFC 9207 §2: every authorization response, errors included, names the issuer.
    params = [*params, ("iss", oauth2_settings.OIDC_ISS_ENDPOINT)]
    if response_mode == "form_post":
        return form_post_response(request, redirect_uri=redirect_uri, params=params)
    schemes = client.get_allowed_schemes() if client else oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
    fragment = response_mode == "fragment"
    response = OAuth2ResponseRedirect(add_params_to_uri(redirect_uri, params, fragment=fragment), schemes)
    if fragment:
        # Tokens in the Location: never cached, and no Referer to carry them on.
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
    return response


AUTO_SUBMIT = 'document.getElementById("response").submit();'
AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(AUTO_SUBMIT.encode()).digest()).decode()


def form_post_response(
    request: HttpRequest, *, redirect_uri: str, params: list[tuple[str, str]]
) -> HttpResponse:
    """Render the page that POSTs ``params`` to ``redirect_uri`` (Form Post Response Mode §2).

    The form submits itself with one inline script and has a button for browsers without
    JavaScript. The page's CSP allows exactly that script (by hash), the site's stylesheet, and
    a form posting to the RP's origin, nothing else.
    """
    target = urlsplit(redirect_uri)
    origin = f"{target.scheme}://{target.netloc}" if target.netloc else f"{target.scheme}:"
    response = render(
        request,
        "oidc_provider/form_post.html",
        {"action": redirect_uri, "fields": params, "script": AUTO_SUBMIT},
    )
    response["Content-Security-Policy"] = (
        "default-src 'none'; "
        f"script-src 'sha256-{AUTO_SUBMIT_HASH}'; "
        "style-src 'self'; "
        f"form-action {origin}; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    # The page carries a code: never cached, never leaked by a Referer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
