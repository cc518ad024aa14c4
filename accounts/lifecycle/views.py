"""Deleting one's own account: what it means, the confirmation, and the page after it."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from ..recent_auth import recent_authentication_required
from ..sessions import login_session_current, signed_out_page_prepare, signed_out_page_take
from ..views import frames_allow
from .forms import AccountDeleteForm
from .services import account_deletion_request

# Carries the erase date from the confirmation to the closed page, across the sign-out.
CLOSED_SESSION_KEY = "_porchlight_account_closed"


@never_cache
@recent_authentication_required
def account_delete(request):
    """Explain what deleting the account does (GET); close it once confirmed (POST)."""
    form = AccountDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        session = login_session_current(request)
        try:
            erase_after = account_deletion_request(user=request.user, actor=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # The deactivation ended every session, this one included; sign this browser out.
            logout(request)
            signed_out_page_prepare(request, session=session)
            assert erase_after is not None  # Only an erasure asked for now has no date.
            request.session[CLOSED_SESSION_KEY] = erase_after.isoformat()
            return redirect("accounts:account-closed")
    grace_days = settings.PORCHLIGHT["ACCOUNT_DELETION_GRACE_DAYS"]
    return render(
        request,
        "accounts/account_delete.html",
        {"form": form, "grace_days": grace_days, "erase_after": timezone.now() + timedelta(days=grace_days)},
    )


@never_cache
def account_closed(request):
    """Say that the account is closed and when it will be erased (once, after closing it)."""
    closed = request.session.pop(CLOSED_SESSION_KEY, None)
    if closed is None:
        return redirect("accounts:login")
    frames = signed_out_page_take(request)["frames"]
    context = {"erase_after": datetime.fromisoformat(closed), "frames": frames}
    return frames_allow(request, render(request, "accounts/account_closed.html", context), frames)
