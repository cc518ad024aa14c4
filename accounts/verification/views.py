"""The e-mail verification pages: ask for a new link, and confirm an address from the mailed one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .services import email_verification_send, email_verification_user, email_verify


def email_verification_request(request) -> None:
    """Send the signed-in user a verification link, saying on the next page what happened."""
    try:
        email_verification_send(user=request.user, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(
            request,
            _("We sent a link to %(email)s: open it to confirm the address.") % {"email": request.user.email},
        )


@login_required
@require_POST
def email_verification_resend(request):
    """Send a new link for the signed-in user's unverified address."""
    email_verification_request(request)
    return redirect("accounts:profile")


@method_decorator(never_cache, name="dispatch")
class EmailVerifyView(View):
    """Confirm an address from the mailed link: GET asks, POST verifies (mail scanners only GET)."""

    template_name = "accounts/email_verify.html"

    def get(self, request, uidb64: str, token: str):
        user = email_verification_user(uidb64=uidb64, token=token)
        return render(request, self.template_name, {"pending": user, "valid": user is not None})

    def post(self, request, uidb64: str, token: str):
        user = email_verify(uidb64=uidb64, token=token, request=request)
        return render(request, self.template_name, {"verified": user, "valid": user is not None})
