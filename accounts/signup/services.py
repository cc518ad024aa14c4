"""Signing up: make the account (inactive), mail the link, confirm it, and staff review.

An address that already has an account gets the same page as a new one, and its owner gets a
mail saying so instead of a link; nothing the person signing up sees, or how long it takes,
says whether the address was known. The link is the e-mail verification link
(accounts/verification/services.py): an HMAC over the account's state, so following it once
(which marks the address verified) ends it, and it expires after
``PORCHLIGHT_EMAIL_VERIFICATION_LIFETIME``.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from audit.actions import Action
from audit.services import audit_record
from ground.client_address import client_ip

from ..links import issuer_link
from ..models import User
from ..verification.services import email_verification_token
from . import policy
from .models import SignUp


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"])


def signup_link(user: User) -> str:
    """Return the absolute link that confirms ``user``'s sign-up address."""
    path = reverse(
        "accounts:signup:verify",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )
    return issuer_link(path)


def _mail(template: str, context: dict, to: str) -> None:
    subject = render_to_string(f"accounts/signup/{template}_subject.txt", context).strip()
    body = render_to_string(f"accounts/signup/{template}_email.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to]))


def _existing(email: str) -> User | None:
    """Return the account that has ``email`` as its address or username, if any."""
    return User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk").first()


def signups_expired_delete() -> int:
    """Delete the accounts of sign-ups whose link expired unused; return how many."""
    stale = User.objects.filter(
        is_active=False,
        email_verified=False,
        last_login__isnull=True,
        signup__status=SignUp.Status.UNVERIFIED,
        signup__created__lt=timezone.now() - _lifetime(),
    )
    return stale.delete()[1].get(User._meta.label, 0)


def _tell_existing(*, request: HttpRequest, email: str, account: User | None) -> None:
    """Mail ``email`` that it has an account already (instead of a link), and audit the attempt."""
    audit_record(
        action=Action.SIGNUP_EXISTING, target=account or email, actor_label="sign-up form", request=request
    )
    pending = (
        account is not None and SignUp.objects.filter(user=account, status=SignUp.Status.UNVERIFIED).exists()
    )
    context = {
        "email": email,
        "pending": pending,
        "login": issuer_link(reverse("accounts:login")),
        "reset": issuer_link(reverse("accounts:password-reset")),
    }
    _mail("existing", context, email)


def _expired_unverified(user: User) -> bool:
    """Return whether ``user`` is a sign-up whose link expired unused (its address may sign up again)."""
    signup = SignUp.objects.filter(user=user).first()
    return (
        signup is not None
        and signup.status == SignUp.Status.UNVERIFIED
        and signup.created + _lifetime() < timezone.now()
        and not user.is_active
        and not user.email_verified
    )


@transaction.atomic
def signup_create(
    *, request: HttpRequest, email: str, password: str, profile: dict[str, object], next_url: str = ""
) -> User | None:
    """Sign ``email`` up with ``password`` and ``profile`` fields; return the new account, or None.

    None: the address (or a username equal to it) already has an account, whose owner is mailed.
    Both cases render the same page and hash a password, so neither tells them apart.
    """
    existing = _existing(email)
    if existing is not None and _expired_unverified(existing):
        # Someone gave this address and never confirmed it: the address is free again.
        existing.delete()
        existing = None
    if existing is not None:
        make_password(password)  # the same work as a new account's hash
        _tell_existing(request=request, email=email, account=existing)
        return None
    user = User(username=email, email=email, is_active=False, **profile)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Another sign-up for this address made the account a moment ago (the username is unique).
        _tell_existing(request=request, email=email, account=_existing(email))
        return None
    now = timezone.now()
    version = policy.terms_version() if policy.terms_url() else ""
    SignUp.objects.create(
        user=user,
        terms_version=version,
        terms_accepted=now if version else None,
        ip=client_ip(request) or "",
        next_url=next_url,
    )
    detail = {"email": email}
    if version:
        detail["terms_version"] = version
    if next_url:
        detail["next"] = urlsplit(next_url).path  # the page, never its query
    audit_record(
        action=Action.SIGNUP_CREATE, target=user, actor_label="sign-up form", detail=detail, request=request
    )
    lifetime = timesince(now, now + _lifetime())
    _mail("verify", {"user": user, "link": signup_link(user), "lifetime": lifetime}, email)
    return user


def _pending(uidb64: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk, signup__status=SignUp.Status.UNVERIFIED).first()


def signup_pending_user(*, uidb64: str, token: str) -> User | None:
    """Return the account whose sign-up the link confirms, or None (expired, used, or no such link)."""
    user = _pending(uidb64)
    if user is None or user.email_verified:
        return None
    return user if email_verification_token.check_token(user, token) else None


@transaction.atomic
def signup_verify(*, uidb64: str, token: str, request: HttpRequest | None = None) -> SignUp | None:
    """Confirm the sign-up the link is for: activate it, or hold it for review; None if the link is bad."""
    user = signup_pending_user(uidb64=uidb64, token=token)
    if user is None:
        return None
    # Checked again under the row lock: of two clicks at once, one confirms and one is refused.
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email_verified or not email_verification_token.check_token(user, token):
        return None
    signup = SignUp.objects.select_for_update().get(user=user)
    if signup.status != SignUp.Status.UNVERIFIED:
        return None
    review = policy.review_required()
    # OIDC Core 1.0 §5.1 email_verified: the link reached this address.
    user.email_verified = True
    user.is_active = not review
    user.save(update_fields=["email_verified", "is_active", "updated_at"])
    signup.status = SignUp.Status.REVIEW if review else SignUp.Status.ACTIVE
    signup.verified = timezone.now()
    signup.save(update_fields=["status", "verified"])
    audit_record(
        action=Action.SIGNUP_VERIFIED,
        target=user,
        actor=user,
        detail={"email": user.email, **({"review": True} if review else {})},
        request=request,
    )
    return signup


@transaction.atomic
def signup_approve(*, signup: SignUp, actor) -> None:
    """Let a sign-up waiting for review sign in, and tell its owner."""
    signup = SignUp.objects.select_for_update().select_related("user").get(pk=signup.pk)
    if signup.status != SignUp.Status.REVIEW:
        raise ValidationError(_("%(email)s is not waiting for review.") % {"email": signup.user.email})
    user = signup.user
    user.is_active = True
    user.save(update_fields=["is_active", "updated_at"])
    signup.status, signup.reviewed, signup.reviewed_by = SignUp.Status.ACTIVE, timezone.now(), actor
    signup.save(update_fields=["status", "reviewed", "reviewed_by"])
    audit_record(action=Action.SIGNUP_APPROVE, target=user, actor=actor, detail={"email": user.email})
    _mail("approved", {"user": user, "login": issuer_link(reverse("accounts:login"))}, user.email)


@transaction.atomic
def signup_reject(*, signup: SignUp, actor) -> None:
    """Delete a sign-up that has not become an active account (waiting for its link or for review)."""
    signup = SignUp.objects.select_for_update().select_related("user").get(pk=signup.pk)
    user = signup.user
    if signup.status == SignUp.Status.ACTIVE or user.is_active or user.last_login:
        raise ValidationError(
            _("%(email)s already uses the account; deactivate the user instead.") % {"email": user.email}
        )
    audit_record(action=Action.SIGNUP_REJECT, target=user, actor=actor, detail={"email": user.email})
    user.delete()
