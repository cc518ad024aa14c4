"""The user page's e-mail section: resend the verification link, or vouch for the address (audited)."""

from django.http import HttpRequest
from django.utils.translation import gettext as _

from ..models import User
from ..user_page import USER_PAGE_SECTIONS, UserPageSection
from .services import email_mark_verified, email_verification_send


def _verification_send(request: HttpRequest, user: User) -> str:
    email_verification_send(user=user, actor=request.user, request=request)
    return _("Sent %(email)s a link to confirm the address.") % {"email": user.email}


def _mark_verified(request: HttpRequest, user: User) -> str:
    email_mark_verified(user=user, actor=request.user)
    return _("Marked %(email)s verified; apps see it in their next sign-in.") % {"email": user.email}


USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_email.html",
        context=lambda user: {},
        actions={"email_verification_send": _verification_send, "email_mark_verified": _mark_verified},
        order=25,
    )
)
