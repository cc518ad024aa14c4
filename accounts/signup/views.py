"""The sign-up pages: the form, "check your email", and the mailed link that confirms the account."""

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from audit.actions import Action
from audit.services import audit_record

from .. import throttling
from ..mfa import policy as mfa_policy
from ..mfa.views import with_next
from ..sessions import record_authentication
from . import policy
from .forms import SignUpConfirmForm, SignUpForm
from .models import SignUp
from .services import signup_create, signup_pending_user, signup_verify

SENT_KEY = "porchlight_signup_sent"


def next_url_checked(request: HttpRequest, value: str | None) -> str:
    """Return ``value`` when it is a path on this site to continue to, else ""."""
    # Printable only: it is stored (PostgreSQL refuses NUL) and sent back in a Location header.
    if not value or not value.startswith("/") or len(value) > 8000 or not value.isprintable():
        return ""
    safe = url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}, require_https=False)
    return value if safe else ""


@never_cache
@sensitive_post_parameters("password1", "password2")
def signup_start(request: HttpRequest) -> HttpResponse:
    """Show the sign-up form (only when sign-up is open); make the account and mail its link."""
    if not policy.signup_open():
        raise Http404
    next_url = next_url_checked(request, request.POST.get("next") or request.GET.get("next"))
    form = SignUpForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # Counted only once the form is right: a mail goes out (or an account is made) for each.
        if throttling.throttle_signup(request=request, email=email):
            signup_create(
                request=request,
                email=email,
                password=form.cleaned_data["password1"],
                profile=form.profile_values(),
                next_url=next_url,
            )
            request.session[SENT_KEY] = email
            return redirect("accounts:signup:sent")
        audit_record(
            action=Action.SIGNUP_LIMITED,
            target=email,
            actor_label="sign-up form",
            request=request,
        )
        form.add_error(None, _("Too many sign-ups for this address or from your network. Try again later."))
    context = {"form": form, "next": next_url, "login_url": _login_url(next_url)}
    return render(request, "accounts/signup/start.html", context)


def _login_url(next_url: str) -> str:
    return reverse("accounts:login") + (f"?{_next_query(next_url)}" if next_url else "")


def _next_query(next_url: str) -> str:
    query = QueryDict(mutable=True)
    query["next"] = next_url
    return query.urlencode()


@never_cache
def signup_sent(request: HttpRequest) -> HttpResponse:
    """Say where the link went (the same page whether or not the address had an account)."""
    return render(request, "accounts/signup/sent.html", {"email": request.session.get(SENT_KEY, "")})


@never_cache
@sensitive_post_parameters("password")
def signup_verify_page(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Confirm the address from the mailed link with the password chosen, and sign in.

    GET only asks (mail scanners follow links); the password makes sure the person confirming is
    the one who signed up, not the owner of an address someone else typed.
    """
    user = signup_pending_user(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/signup/verify_invalid.html", status=400)
    form = SignUpConfirmForm(request.POST if request.method == "POST" else None, request=request, user=user)
    if request.method == "POST" and form.is_valid():
        signup = signup_verify(uidb64=uidb64, token=token, request=request)
        if signup is None:
            # Used meanwhile in another tab, or expired while the page was open.
            return render(request, "accounts/signup/verify_invalid.html", status=400)
        if signup.status == SignUp.Status.REVIEW:
            return render(request, "accounts/signup/review.html", {"email": signup.user.email})
        return _sign_in(request, signup)
    return render(request, "accounts/signup/verify.html", {"form": form, "pending": user})


def _sign_in(request: HttpRequest, signup: SignUp) -> HttpResponse:
    """Sign the confirmed account in and continue where the sign-up started (an app's request)."""
    user = signup.user
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    context = record_authentication(request, ["pwd"])
    audit_record(
        action=Action.LOGIN_SUCCESS,
        target=user,
        actor=user,
        detail={"amr": context.amr, "sid": context.session_id},
        request=request,
    )
    target = next_url_checked(request, signup.next_url) or reverse("accounts:home")
    if mfa_policy.mfa_required(user) or mfa_policy.staff_mfa_required(user):
        return redirect(with_next(reverse("accounts:mfa:totp-enroll"), target) + "&required=1")
    messages.success(request, _("Your address is confirmed and your account is ready. Welcome!"))
    return redirect(target)
