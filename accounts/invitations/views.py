"""The page an invitation link opens: choose a password, then (where required) a second factor."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from ..mfa import policy
from ..mfa.views import with_next
from ..models import Invitation
from ..sessions import record_authentication
from ..signup import policy as signup_policy
from ..signup.forms import SignUpDetailsForm
from .services import invitation_accept, invitation_find, invitation_usable

SESSION_KEY = "porchlight_invitation"


def _pending(request: HttpRequest) -> Invitation | None:
    held = request.session.get(SESSION_KEY)
    if not isinstance(held, dict) or held.get("id") is None:
        return None
    invitation = (
        Invitation.objects.select_related("user").filter(pk=held["id"], token_hash=held.get("token")).first()
    )
    return invitation if invitation is not None and invitation_usable(invitation) else None


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
def accept(request: HttpRequest) -> HttpResponse:
    """Check the link, then let the invited person choose a password and sign them in."""
    if "token" in request.GET:
        invitation = invitation_find(request.GET["token"])
        if invitation is None:
            return render(request, "accounts/invitation_invalid.html", status=400)
        # Like Django's password reset: keep the link's proof in the session and take the token
        # out of the address bar (and out of any Referer) before the form is shown.
        request.session[SESSION_KEY] = {"id": invitation.pk, "token": invitation.token_hash}
        return redirect(reverse("invitations:accept"))
    invitation = _pending(request)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=400)
    user = invitation.user
    data = request.POST if request.method == "POST" else None
    form = SetPasswordForm(user, data)
    # PORCHLIGHT_SIGNUP=invite: the invitation is the way to sign up, so it asks what sign-up asks.
    details = (
        SignUpDetailsForm(data, request=request, instance=user)
        if signup_policy.signup_mode() == signup_policy.INVITE and SignUpDetailsForm.asks_anything()
        else None
    )
    if request.method == "POST" and form.is_valid() and (details is None or details.is_valid()):
        profile = details.profile_values() if details is not None else None
        terms = signup_policy.terms_version() if details is not None and signup_policy.terms_url() else ""
        try:
            user = invitation_accept(
                invitation=invitation,
                password=form.cleaned_data["new_password1"],
                profile=profile,
                terms_version=terms,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            request.session.pop(SESSION_KEY, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            record_authentication(request, ["pwd"])
            if policy.mfa_required(user) or policy.staff_mfa_required(user):
                return redirect(
                    with_next(reverse("accounts:mfa:totp-enroll"), reverse("accounts:home")) + "&required=1"
                )
            messages.success(request, _("Your password is set. Welcome!"))
            return redirect("accounts:home")
    context = {"form": form, "details": details, "invited": user}
    return render(request, "accounts/invitation_accept.html", context)
