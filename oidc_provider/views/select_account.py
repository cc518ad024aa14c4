"""prompt=select_account (OIDC Core 1.0 §3.1.2.1) and login_hint: choosing who signs in.

The signed-in user sees who they are and either continues as that account or signs out and
signs in with another; the authorization request waits in the URL either way and resumes after.
"""

from urllib.parse import urlencode

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.sessions import login_session_current, signed_out_page_prepare

from ..authorization import PENDING_LIFETIME, AuthorizationParams
from ..models import Client

RESUME_SALT = "porchlight.authorize.select-account"


def login_redirect(next_url: str, login_hint: str = "") -> HttpResponseRedirect:
    """Send the user to the sign-in form, back to ``next_url`` after; pre-fill ``login_hint``.

    The hint only fills the username field (OIDC Core 1.0 §3.1.2.1): the form says nothing
    about whether such an account exists.
    """
    login_url = reverse("accounts:login")
    if login_hint:
        login_url = f"{login_url}?{urlencode({'login_hint': login_hint})}"
    return redirect_to_login(next_url, login_url)


def signup_redirect(next_url: str) -> HttpResponseRedirect:
    """Send the user to sign up, then back to ``next_url`` (Prompt Create 1.0 §4)."""
    return HttpResponseRedirect(f"{reverse('accounts:signup:start')}?{urlencode({'next': next_url})}")


def select_account_page(request: HttpRequest, client: Client, params: AuthorizationParams) -> HttpResponse:
    """Show who is signed in: continue as them, or use another account."""
    user = request.user
    assert user.is_authenticated  # prompt.py asks to select an account only of someone signed in.
    # Signed, so the sign-out view sends the user back only to an authorization request.
    resume = signing.dumps(params.return_url(request.path, reauth_requested=True), salt=RESUME_SALT)
    return render(
        request,
        "oidc_provider/select_account.html",
        {
            "client": client,
            "account": user,
            "continue_url": params.selected_url(request.path, user.pk),
            "resume": resume,
        },
    )


@method_decorator(never_cache, name="dispatch")
class SelectAccountView(View):
    """ "Use another account": sign out, then the sign-in form, then the same authorization request."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        try:
            next_url = signing.loads(
                request.POST.get("resume", ""), salt=RESUME_SALT, max_age=PENDING_LIFETIME
            )
        except signing.BadSignature:
            return render(
                request,
                "oidc_provider/error.html",
                {"message": _("This sign-in request has expired. Go back to the app and start again.")},
                status=400,
            )
        login_url = f"{reverse('accounts:login')}?{urlencode({'next': next_url})}"
        if request.user.is_authenticated:
            session = login_session_current(request)
            logout(request)
            # Front-Channel Logout 1.0 §4: the apps' logout pages load first, then the sign-in form.
            if signed_out_page_prepare(request, session=session, next_url=login_url):
                return redirect("accounts:logged-out")
        return redirect(login_url)
