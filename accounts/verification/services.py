"""E-mail address verification: a single-use, expiring link mailed to the address.

``email_verified`` (OIDC Core 1.0 §5.1) is true only once someone followed a link sent to the
address, or staff vouched for it (audited). The link needs no stored state: like Django's
password reset token, it is an HMAC over the account's state (pk, address, whether verified,
last profile change), so following it once, or any change of the address, ends it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from audit.actions import Action
from audit.models import AuditEvent
from audit.services import about, audit_record

from ..languages import user_language
from ..links import issuer_link
from ..models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for "this is my address" links, valid for ``EMAIL_VERIFICATION_LIFETIME`` seconds."""

    key_salt = "porchlight.accounts.EmailVerificationTokenGenerator"

    def _now(self) -> datetime:
        # timezone.now, so tests move time the way they do everywhere else.
        return timezone.now().replace(tzinfo=None)

    def _make_hash_value(self, user, timestamp: int) -> str:
        # Verifying flips email_verified and saving bumps updated_at (auto_now), so a link works
        # once; a new address, or any later profile change, ends every link sent before it.
        changed = "" if user.updated_at is None else user.updated_at.isoformat()
        return f"{user.pk}|{user.email}|{user.email_verified}|{changed}|{timestamp}"

    def check_token(self, user, token) -> bool:
        """Return whether ``token`` is a link for ``user`` as they are now, within its lifetime."""
        # Django's check_token measures against PASSWORD_RESET_TIMEOUT; this link has its own.
        if not (user and token) or token.count("-") != 1:
            return False
        try:
            timestamp = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        matches = any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )
        age = self._num_seconds(self._now()) - timestamp
        return matches and 0 <= age <= settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"]


email_verification_token = EmailVerificationTokenGenerator()


def email_verification_link(*, user: User) -> str:
    """Return the absolute link that verifies ``user``'s current address."""
    path = reverse(
        "accounts:email-verify",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )
    return issuer_link(path)


def _lifetime_text() -> str:
    now = timezone.now()
    return timesince(now, now + timedelta(seconds=settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"]))


def _sent_recently(user: User) -> int:
    window = timedelta(seconds=settings.PORCHLIGHT["PASSWORD_RESET_WINDOW"])
    return AuditEvent.objects.filter(
        about(user), action=Action.EMAIL_VERIFICATION_SENT, created__gt=timezone.now() - window
    ).count()


def email_verification_send(*, user: User, actor, request: HttpRequest | None = None) -> None:
    """Mail ``user`` a link that verifies their address; raise ValidationError when it cannot go."""
    if not user.email:
        raise ValidationError(_("There is no e-mail address to verify."))
    if user.email_verified:
        raise ValidationError(_("%(email)s is already verified.") % {"email": user.email})
    if not user.is_active:
        raise ValidationError(_("This account is deactivated."))
    with transaction.atomic():
        # The user's row lock makes count-and-record one step, so concurrent requests cannot
        # all slip under the limit. The limit is the password reset mail's, per account: each
        # mail goes to an address the requester chose, so unlimited sends would be a mail cannon.
        User.objects.select_for_update().filter(pk=user.pk).first()
        limited = _sent_recently(user) >= settings.PORCHLIGHT["PASSWORD_RESET_MAX_PER_ACCOUNT"]
        audit_record(
            action=Action.EMAIL_VERIFICATION_LIMITED if limited else Action.EMAIL_VERIFICATION_SENT,
            target=user,
            actor=actor,
            detail={"to": user.email},
            request=request,
        )
    if limited:
        raise ValidationError(_("Several links were sent recently. Try again later."), code="throttled")
    context = {
        "user": user,
        "link": email_verification_link(user=user),
        "lifetime": _lifetime_text(),
    }
    # In the language of the person it is for (their locale), whoever sends it.
    with translation.override(user_language(user)):
        subject = render_to_string("accounts/email_verify_subject.txt", context).strip()
        body = render_to_string("accounts/email_verify_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def email_verification_user(*, uidb64: str, token: str) -> User | None:
    """Return the active user whose current address the link verifies, or None (expired, used, wrong)."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or user.email_verified or not user.email:
        return None
    return user if email_verification_token.check_token(user, token) else None


@transaction.atomic
def email_verify(*, uidb64: str, token: str, request: HttpRequest | None = None) -> User | None:
    """Mark the address the link was sent to verified; return the user, or None if the link is no good."""
    user = email_verification_user(uidb64=uidb64, token=token)
    if user is None:
        return None
    # Checked again under the row lock: of two clicks at once, one verifies and one is refused.
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email_verified or not email_verification_token.check_token(user, token):
        return None
    user.email_verified = True
    user.save(update_fields=["email_verified", "updated_at"])
    audit_record(
        action=Action.EMAIL_VERIFIED,
        target=user,
        actor=user,
        detail={"email": user.email},
        request=request,
    )
    return user


@transaction.atomic
def email_mark_verified(*, user: User, actor) -> None:
    """Record that staff vouch for ``user``'s address without a link being followed."""
    if not user.email:
        raise ValidationError(_("This user has no e-mail address."))
    if user.email_verified:
        raise ValidationError(_("%(email)s is already verified.") % {"email": user.email})
    user.email_verified = True
    user.save(update_fields=["email_verified", "updated_at"])
    audit_record(
        action=Action.EMAIL_MARKED_VERIFIED,
        target=user,
        actor=actor,
        detail={"email": user.email},
    )
