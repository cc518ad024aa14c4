"""The user page's "Account status" section: deactivate, reactivate, restore or erase (audited)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from ..models import User
from ..user_page import USER_PAGE_SECTIONS, UserPageSection
from .services import account_deactivate, account_erase, account_reactivate, account_restore, account_state


def _confirmed(request: HttpRequest, message: str) -> None:
    # A JS-free confirmation: the box must be ticked (browsers refuse to submit it unticked too).
    if request.POST.get("confirm") != "yes":
        raise ValidationError(message)


def _deactivate(request: HttpRequest, user: User) -> str:
    _confirmed(request, _("Tick the box to confirm that you want to deactivate the account."))
    account_deactivate(user=user, actor=request.user, reason=request.POST.get("reason", "")[:200])
    return _("Deactivated %(username)s: signed out everywhere, tokens revoked, apps told.") % {
        "username": user.get_username()
    }


def _reactivate(request: HttpRequest, user: User) -> str:
    account_reactivate(user=user, actor=request.user)
    return _("Reactivated %(username)s: they can sign in again.") % {"username": user.get_username()}


def _restore(request: HttpRequest, user: User) -> str:
    account_restore(user=user, actor=request.user)
    return _("Restored %(username)s: the deletion is called off and they can sign in again.") % {
        "username": user.get_username()
    }


def _erase(request: HttpRequest, user: User) -> str:
    _confirmed(request, _("Tick the box to confirm that you want to erase the account."))
    username = user.get_username()
    tombstone = account_erase(user=user, actor=request.user)
    return _("Erased %(username)s; what is left is the empty account %(tombstone)s.") % {
        "username": username,
        "tombstone": tombstone.get_username(),
    }


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
