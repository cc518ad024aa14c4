"""What the user must do before a code is issued: sign in, give a second factor, or consent.

The authorization endpoint asks ``interaction_needed`` once, after the request passed its own
checks (authorization.py). The checks below run in order, each one rule; the first that applies
is the answer, None means the code may be issued now. With ``prompt=none`` the view answers the
RP with the interaction's error instead of asking (OIDC Core 1.0 §3.1.2.6).
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.http import HttpRequest
from oauth2_provider.settings import oauth2_settings

from accounts.authentication import AuthContext
from accounts.models import User

from . import keys, mfa_policy
from .authorization import PROMPT_CREATE, AuthorizationError, AuthorizationParams
from .consent import consent_covers
from .models import Client
from .requested_claims import acr_values_for, claims_to_consent
from .subjects import audience_client, subject_matches


@dataclass(frozen=True)
class Interaction:
    """Something the user must do, and the error that answers ``prompt=none`` instead (§3.1.2.6)."""

    name: str
    error: str
    description: str


LOGIN = Interaction("login", "login_required", "The user must sign in.")
SECOND_FACTOR = Interaction("second_factor", "interaction_required", "The user must use a second factor.")
CONSENT = Interaction("consent", "consent_required", "The user has not consented to this client.")
# Prompt Create 1.0 §4: prompt=none cannot be combined with create (authorization_check), so
# this error is never sent; the interaction opens the sign-up page.
CREATE = Interaction("create", "interaction_required", "The user must create an account.")
SELECT_ACCOUNT = Interaction(
    "select_account", "account_selection_required", "The user must choose which account to use."
)


def interaction_needed(
    request: HttpRequest,
    params: AuthorizationParams,
    client: Client,
    scopes: list[str],
    context: AuthContext | None,
) -> Interaction | None:
    """Return what the user must do first for this request, or None if nothing is left to ask."""
    # Read first: a malformed max_age is refused (invalid_request) whether or not anyone signed in.
    max_age = params.max_age
    # Prompt Create 1.0 §4: the user asked to create an account, signed in or not (only while sign-up
    # is open: authorization_check refuses it otherwise); the URL sign-up returns to notes it is done.
    if PROMPT_CREATE in params.prompt and not params.account_created():
        return CREATE
    user = request.user
    # No sign-in context: no one is signed in (get_auth_context).
    if context is None or not user.is_authenticated or login_needed(user, client, params, context, max_age):
        return LOGIN
    # OIDC Core 1.0 §3.1.2.1 prompt=select_account: the signed-in user confirms this account or
    # signs in with another; a sign-in made for this request is that choice already.
    if "select_account" in params.prompt and not params.account_selected(user.pk, context.auth_time):
        return SELECT_ACCOUNT
    # An acr the claims parameter asks for is honoured like acr_values (OIDC Core 1.0 §5.5.1.1).
    acr_values = acr_values_for(params.claims_request, params.get("acr_values"))
    if mfa_policy.second_factor_missing(request, client, context, acr_values=acr_values):
        return SECOND_FACTOR
    claims = claims_to_consent(params.claims_asked(client, scopes), scopes)
    if consent_needed(user, client, scopes, params.prompt, claims=claims):
        return CONSENT
    return None


def login_needed(
    user: User, client: Client, params: AuthorizationParams, context: AuthContext, max_age: int | None
) -> bool:
    """Return whether the signed-in user must sign in again (OIDC Core 1.0 §3.1.2.1)."""
    if subject_is_another_user(user, client, params):
        if params.reauthenticated_since_requested(context.auth_time):
            # OIDC Core 1.0 §5.5.1: never an ID token for another subject, whoever signed in.
            raise AuthorizationError("access_denied", "The user who signed in is not the requested subject.")
        return True
    if params.reauthenticated_since_requested(context.auth_time):
        # The sign-in this very request sent the user to meets prompt=login and max_age.
        return False
    return (
        "login" in params.prompt
        or (max_age is not None and time.time() - context.auth_time > max_age)
        or hint_names_another_user(user, client, params)
    )


def hint_names_another_user(user: User, client: Client, params: AuthorizationParams) -> bool:
    """Return whether id_token_hint names someone other than the signed-in user (§3.1.2.1)."""
    hint = params.get("id_token_hint")
    if not hint:
        return False
    claims = keys.verify(hint, check_expiry=False)
    if not claims or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
        raise AuthorizationError("invalid_request", "id_token_hint is not an ID token issued here.")
    # The sub is the one the hint's audience knows the user by (OIDC Core 1.0 §8): normally this
    # very client, whose pairwise sub differs from the public one.
    return not subject_matches(claims.get("sub"), user, audience_client(claims, client))


def subject_is_another_user(user: User, client: Client, params: AuthorizationParams) -> bool:
    """Return whether the claims parameter asks for an ID token about someone else (OIDC Core 1.0 §5.5.1).

    The sub asked for is the one ``client`` knows the user by (OIDC Core 1.0 §8).
    """
    required = params.claims_request.required_subject()
    return required is not None and not subject_matches(required, user, client)


def consent_needed(
    user: User, client: Client, scopes: list[str], prompt: set[str], *, claims: Sequence[str] = ()
) -> bool:
    """Return whether the user must be asked to allow ``client`` ``scopes`` and ``claims`` (asked by name).

    OIDC Core 1.0 §3.1.2.4: consent the user already gave for every requested scope and claim
    (or the client's standing as a trusted app) is not asked for again, unless the RP asks for
    it with prompt=consent (§3.1.2.1).
    """
    if "consent" in prompt:
        return True
    return not (
        client.skip_authorization or consent_covers(user=user, client=client, scopes=scopes, claims=claims)
    )
