"""The admin site, opened only through Porchlight's own sign-in.

Django's stock ``AdminSite.login`` checks a password by itself: no second factor, no lockout, no
audit, and its ``login()`` left a session that authorization requests took for a password
sign-in. Here the admin has no login form of its own. Every visit is checked against the session's
authentication context (accounts/authentication.py), and a visitor who lacks a step is sent to
the page that gives it: the sign-in page, the second-factor step, or authenticator enrollment
when staff must use a second factor (``PORCHLIGHT_STAFF_REQUIRE_MFA``).
"""

from enum import StrEnum

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from .authentication import get_auth_context
from .mfa import policy
from .mfa.views import authenticate_url, with_next
from .views import LogoutView


class Missing(StrEnum):
    """The step a visitor still has to take before the admin opens."""

    SIGN_IN = "sign_in"
    SECOND_FACTOR = "second_factor"
    ENROLLMENT = "enrollment"
    STAFF = "staff"


def admin_step_missing(request: HttpRequest) -> Missing | None:
    """Return what keeps this session out of the admin, or None when it may enter."""
    user = request.user
    context = get_auth_context(request)
    if not user.is_active or context is None:
        # No Porchlight sign-in in this session (or it was made by some other path).
        return Missing.SIGN_IN
    if not user.is_staff:
        return Missing.STAFF
    if context.acr == "mfa":
        return None
    if policy.has_second_factor(user):
        # A user with an authenticator is never let in on the password alone.
        return Missing.SECOND_FACTOR
    if policy.staff_mfa_required(user):
        return Missing.ENROLLMENT
    return None


class PorchlightAdminSite(admin.AdminSite):
    site_title = settings.SITE_NAME
    site_header = f"{settings.SITE_NAME} administration"
    index_title = "Manage apps, people and keys"

    def has_permission(self, request: HttpRequest) -> bool:
        return admin_step_missing(request) is None

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Send the visitor to the step they lack; never check a password here (any method)."""
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("admin:index", current_app=self.name)
        missing = admin_step_missing(request)
        if missing is None:
            return redirect(target)
        if missing == Missing.SIGN_IN:
            return redirect_to_login(target, "accounts:login")
        if missing == Missing.SECOND_FACTOR:
            return redirect(authenticate_url(target))
        if missing == Missing.ENROLLMENT:
            return redirect(with_next(reverse("accounts:mfa:totp-enroll"), target) + "&required=1")
        return render(request, "accounts/admin_denied.html", status=403)

    # django-stubs says these two return a TemplateResponse (Django's own views do); any
    # response will do, and these redirect or answer with the sign-out view's.
    def logout(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponseBase:
        """Sign out through the one sign-out view."""
        return LogoutView.as_view()(request)

    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        """Change the password on the account page, where the old one is checked like a login."""
        return redirect("accounts:password-change")
