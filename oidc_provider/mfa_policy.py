"""When an authorization request needs a second factor, and where the user goes to give one.

A second factor is needed when the client requires it, when one of the user's groups does, or
when the request's ``acr_values`` accept nothing below "mfa" (OIDC Core 1.0 §3.1.2.1: the
values, in order of preference, the RP asks the provider to use). The session's level comes
from how the user authenticated (RFC 8176 amr values); the ID token reports the level reached.
"""

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse

from accounts.authentication import AuthContext
from accounts.mfa.policy import has_second_factor, mfa_required

from .models import Client

# The acr values this provider issues, weakest first (discovery's acr_values_supported).
ACR_LEVELS = {"pwd": 0, "mfa": 1}


def requested_acr(acr_values: str | None) -> str | None:
    """Return the weakest known acr the RP accepts from ``acr_values``, or None for no wish.

    Unknown values are ignored: acr_values is a voluntary request (OIDC Core 1.0 §5.5.1.1), and
    an RP listing one we do not issue alongside one we do still gets the one we do.
    """
    known = [value for value in (acr_values or "").split() if value in ACR_LEVELS]
    return min(known, key=ACR_LEVELS.__getitem__) if known else None


def second_factor_missing(
    request: HttpRequest, client: Client, context: AuthContext, *, acr_values: str | None = None
) -> bool:
    """Return whether this request (asking for ``acr_values``) needs a second factor the session lacks."""
    if ACR_LEVELS.get(context.acr, 0) >= ACR_LEVELS["mfa"]:
        return False
    wanted = requested_acr(acr_values)
    return client.require_mfa or wanted == "mfa" or mfa_required(request.user)


def second_factor_redirect(request: HttpRequest, *, next_url: str | None = None) -> HttpResponse:
    """Send the user to the second-factor step (or enrollment without a device), then to ``next_url``."""
    query = QueryDict(mutable=True)
    query["next"] = next_url or request.get_full_path()
    if has_second_factor(request.user):
        return redirect(f"{reverse('accounts:mfa:authenticate')}?{query.urlencode()}")
    query["required"] = "1"
    return redirect(f"{reverse('accounts:mfa:totp-enroll')}?{query.urlencode()}")
