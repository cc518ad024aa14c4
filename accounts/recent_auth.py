"""Sensitive account actions ask for a fresh sign-in (a recent-authentication check).

Downloading one's data or deleting the account needs more than a long-lived session cookie: the
user must have signed in (password, and second factor if they have one) within
``PORCHLIGHT_RECENT_AUTH_MAX_AGE`` seconds. Otherwise they are sent through the login page, which
records a new authentication time for the same session (``accounts.authentication``), and back.
"""

import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest

from .authentication import get_auth_context


def recently_authenticated(request: HttpRequest) -> bool:
    """Say whether the signed-in user authenticated within the recent-authentication window."""
    context = get_auth_context(request)
    if context is None:
        return False
    return time.time() - context.auth_time <= settings.PORCHLIGHT["RECENT_AUTH_MAX_AGE"]


def recent_authentication_required(view):
    """Decorate a view so only a recently authenticated user reaches it; others sign in again.

    A POST that arrives too late is not replayed after the sign-in: the user lands on the page
    again (a GET of the same path) and confirms once more.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        if request.user.is_authenticated:
            messages.info(request, "For your security, sign in again to continue.")
        return redirect_to_login(request.path)

    return wrapper
