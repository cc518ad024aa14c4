"""The user page's "Account status" section: deactivate, reactivate, restore or erase (audited)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ..models import User
from ..user_page import USER_PAGE_SECTIONS, UserPageSection
from .services import account_deactivate, account_erase, account_reactivate, account_restore, account_state


def _confirmed(request: HttpRequest, what: str) -> None:
    # A JS-free confirmation: the box must be ticked (browsers refuse to submit it unticked too).
    if request.POST.get("confirm") != "yes":
        raise ValidationError(f"Tick the box to confirm that you want to {what}.")


def _deactivate(request: HttpRequest, user: User) -> str:
    _confirmed(request, "deactivate the account")
    account_deactivate(user=user, actor=request.user, reason=request.POST.get("reason", "")[:200])
    return f"Deactivated {user.get_username()}: signed out everywhere, tokens revoked, apps told."


def _reactivate(request: HttpRequest, user: User) -> str:
    account_reactivate(user=user, actor=request.user)
    return f"Reactivated {user.get_username()}: they can sign in again."


def _restore(request: HttpRequest, user: User) -> str:
    account_restore(user=user, actor=request.user)
    return f"Restored {user.get_username()}: the deletion is called off and they can sign in again."


def _erase(request: HttpRequest, user: User) -> str:
    _confirmed(request, "erase the account")
    username = user.get_username()
    tombstone = account_erase(user=user, actor=request.user)
    return f"Erased {username}; what is left is the empty account {tombstone.get_username()}."


USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_status.html",
        context=lambda user: {
            "state": account_state(user),
            "grace_days": settings.PORCHLIGHT["ACCOUNT_DELETION_GRACE_DAYS"],
        },
        actions={
            "account_deactivate": _deactivate,
            "account_reactivate": _reactivate,
            "account_restore": _restore,
            "account_erase": _erase,
        },
        order=15,
    )
)
