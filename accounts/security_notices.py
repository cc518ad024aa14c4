"""Telling the account's owner, by e-mail, that how they sign in has changed.

Every change to a sign-in method (an authenticator app or passkey added, renamed or removed,
recovery codes made, the password or the e-mail address changed) is mailed to the owner with a
link to their sessions, so a change they did not make is noticed and can be undone. A changed
address is told at the old address too: the new one may be the attacker's.
"""

import logging
import smtplib
from enum import StrEnum

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from .languages import user_language
from .links import issuer_link
from .models import User

logger = logging.getLogger(__name__)


class Change(StrEnum):
    TOTP_ADDED = "totp_added"
    PASSKEY_ADDED = "passkey_added"
    DEVICE_RENAMED = "device_renamed"
    DEVICE_REMOVED = "device_removed"
    RECOVERY_CODES = "recovery_codes"
    PASSWORD_CHANGED = "password_changed"
    EMAIL_CHANGED = "email_changed"
    MFA_RESET = "mfa_reset"


# What happened, in the mail's subject and first line.
WHAT = {
    Change.TOTP_ADDED: _("An authenticator app was added to your account"),
    Change.PASSKEY_ADDED: _("A passkey was added to your account"),
    Change.DEVICE_RENAMED: _("A sign-in method on your account was renamed"),
    Change.DEVICE_REMOVED: _("A sign-in method was removed from your account"),
    Change.RECOVERY_CODES: _("New recovery codes were made for your account"),
    Change.PASSWORD_CHANGED: _("Your password was changed"),
    Change.EMAIL_CHANGED: _("The e-mail address of your account was changed"),
    Change.MFA_RESET: _("Staff removed the second factors from your account"),
}


def security_notice_send(*, user: User, change: Change, detail: str = "", to: str | None = None) -> None:
    """Mail the owner of ``user`` (at ``to``, default their address) that ``change`` happened.

    Sent once the change commits; a mail server that fails is logged and does not undo it.
    """
    address = user.email if to is None else to
    if not address:
        return
    context = {
        "user": user,
        "what": WHAT[change],
        "detail": detail,
        "when": timezone.now(),
        # The account page, which lists the user's sessions and ends them.
        "link": issuer_link(reverse("accounts:home")),
    }
    # In the language of the person it is for (their locale), whoever sends it.
    with translation.override(user_language(user)):
        subject = render_to_string("accounts/security_notice_subject.txt", context).strip()
        body = render_to_string("accounts/security_notice_email.txt", context)

    def deliver() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except (smtplib.SMTPException, OSError) as error:
            logger.warning("security notice %s for user %s not sent: %s", change, user.pk, error)

    transaction.on_commit(deliver)
