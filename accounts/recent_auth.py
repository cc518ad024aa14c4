"""Changes to how one signs in, and other sensitive actions, ask for a fresh sign-in.

A long-lived session cookie is not enough to add, rename or remove an authenticator app or a
passkey, to show or regenerate recovery codes, to change the password or the e-mail address that
password resets go to, to download one's data or to delete the account: whoever holds a stolen
cookie (or a minute at an unlocked browser) could otherwise turn a stolen session into a stolen
account. The user must have signed in *that way* within ``PORCHLIGHT_RECENT_AUTH_MAX_AGE``
seconds: with the password, and with the second factor when the account has one. Otherwise they
are sent through the login page, which records a new authentication time for the same session
(``accounts.authentication``), and back. Enrolling a factor never moves that time
(``record_factor_added``), so it cannot open these pages by itself.
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, overload

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .authentication import get_auth_context
from .mfa.policy import has_second_factor


def recently_authenticated(request: HttpRequest) -> bool:
    """Say whether the signed-in user signed in fully (both factors, if any) within the window."""
    context = get_auth_context(request)
    if context is None:
        return False
    if time.time() - context.auth_time > settings.PORCHLIGHT["RECENT_AUTH_MAX_AGE"]:
        return False
    # A password alone is not a fresh sign-in of an account that has a second factor.
    return "mfa" in context.amr or not has_second_factor(request.user)


ViewFunction = Callable[..., HttpResponseBase]


def reauthenticate(request: HttpRequest, *, then: str = "") -> HttpResponseRedirect:
    """Send the user through the login page and back to ``then`` (default: this page, as a GET)."""
    if request.user.is_authenticated:
        messages.info(request, _("For your security, sign in again to continue."))
    return redirect_to_login(then or request.get_full_path())


@overload
def recent_authentication_required(view: ViewFunction, *, return_to: str = "") -> ViewFunction: ...
@overload
def recent_authentication_required(
    view: None = None, *, return_to: str = ""
) -> Callable[[ViewFunction], ViewFunction]: ...


def recent_authentication_required(
    view: ViewFunction | None = None, *, return_to: str = ""
) -> ViewFunction | Callable[[ViewFunction], ViewFunction]:
    """Decorate a view so only a recently authenticated user reaches it; others sign in again.

    A POST that arrives too late is not replayed after the sign-in: the user lands on the page
    again (a GET of the same address, or of the URL named ``return_to`` for a view that only
    takes POSTs) and confirms once more.
    """

    def decorate(view: ViewFunction) -> ViewFunction:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if recently_authenticated(request):
                return view(request, *args, **kwargs)
            return reauthenticate(request, then=reverse(return_to) if return_to else "")

        return wrapper

    return decorate(view) if view is not None else decorate
