"""An account's life after sign-up: deactivation, deletion with a grace period, erasure.

Deactivating signs the person out everywhere: the post_save receiver in ``sessions.py`` ends
every sign-in session (the apps are told by back-channel logout) and sends
``account_deactivated``, on which the protocol side revokes every token, offline ones included.
That path runs however ``is_active`` goes off (these services, the admin's checkbox, a script).

Deleting one's account (GDPR Art. 17) deactivates it at once and erases it after
``PORCHLIGHT_ACCOUNT_DELETION_GRACE_DAYS``, during which staff can restore it. Erasure removes
the personal data and devices but keeps the row as a tombstone, so its subject identifier stays
taken and is never issued again (OIDC Core 1.0 §2: sub is never reassigned). Audit events keep
what happened, without who it was.
"""

import secrets
from datetime import datetime, timedelta
from importlib import import_module

import django_otp
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn.models import WebAuthnUserHandle

from audit.actions import Action
from audit.services import audit_events_anonymise, audit_record

from ..models import DataExport, Invitation, LoginFailure, LoginSession, User
from ..throttling import account_key

# Sent with ``user`` inside the erasure's transaction, before the row becomes a tombstone: the
# protocol side deletes the user's tokens, codes, device grants and consents.
account_erased = Signal()

# The fields a tombstone keeps: its identity (pk, subject), the lifecycle dates, and fields that
# are replaced rather than emptied. Every other field is set back to its default, so a claim
# field added later is erased too.
TOMBSTONE_KEEPS = {
    "id",
    "subject",
    "username",
    "password",
    "is_active",
    "date_joined",
    "deletion_requested",
    "erase_after",
    "erased",
    "updated_at",
}


ACCOUNT_STATES = ("active", "deactivated", "awaiting erasure", "erased")


def account_state(user: User) -> str:
    """Return which of ``ACCOUNT_STATES`` ``user`` is in."""
    if user.erased is not None:
        return "erased"
    if user.erase_after is not None and not user.is_active:
        return "awaiting erasure"
    return "active" if user.is_active else "deactivated"


def users_in_state(users: QuerySet, state: str) -> QuerySet:
    """Return those of ``users`` in ``state`` (one of ``ACCOUNT_STATES``), as ``account_state`` says."""
    return {
        "active": users.filter(is_active=True, erased__isnull=True),
        "deactivated": users.filter(is_active=False, erase_after__isnull=True, erased__isnull=True),
        "awaiting erasure": users.filter(is_active=False, erase_after__isnull=False, erased__isnull=True),
        "erased": users.filter(erased__isnull=False),
    }[state]


def _check_not_last_superuser(user: User) -> None:
    # Somebody must be able to reach the admin afterwards (and undo this).
    if (
        user.is_superuser
        and user.is_active
        and not User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ValidationError(
            _("This is the only active superuser: make another one before closing this account.")
        )


def _check_not_erased(user: User) -> None:
    if user.erased is not None:
        raise ValidationError(_("This account was erased; nothing of it is left to change."))


@transaction.atomic
def account_deactivate(*, user: User, actor, reason: str = "", actor_label: str = "") -> None:
    """Stop ``user`` signing in: end every session, revoke every token, tell the apps."""
    _check_not_erased(user)
    _check_not_last_superuser(user)
    user.is_active = False
    # post_save (sessions.end_sessions_on_deactivation) ends the sessions and revokes the tokens.
    user.save(update_fields=["is_active"])
    audit_record(
        action=Action.ACCOUNT_DEACTIVATE,
        target=user,
        actor=actor,
        actor_label=actor_label,
        detail={"reason": reason} if reason else {},
    )


@transaction.atomic
def account_reactivate(*, user: User, actor, actor_label: str = "") -> None:
    """Let ``user`` sign in again (a deletion awaiting erasure is called off too)."""
    _check_not_erased(user)
    user.is_active = True
    user.deletion_requested = user.erase_after = None
    user.save(update_fields=["is_active", "deletion_requested", "erase_after"])
    audit_record(action=Action.ACCOUNT_REACTIVATE, target=user, actor=actor, actor_label=actor_label)


@transaction.atomic
def account_deletion_request(
    *, user: User, actor, now: bool = False, actor_label: str = ""
) -> datetime | None:
    """Close ``user``'s account at once; erase it after the grace period, or now. Return the erase time."""
    _check_not_erased(user)
    _check_not_last_superuser(user)
    requested = timezone.now()
    # Asked again while awaiting erasure: the first date stands.
    erase_after = user.erase_after or requested + timedelta(
        days=settings.PORCHLIGHT["ACCOUNT_DELETION_GRACE_DAYS"]
    )
    user.is_active = False
    user.deletion_requested = user.deletion_requested or requested
    user.erase_after = erase_after
    user.save(update_fields=["is_active", "deletion_requested", "erase_after"])
    audit_record(
        action=Action.ACCOUNT_DELETION_REQUEST,
        target=user,
        actor=actor,
        actor_label=actor_label,
        detail={"erase_after": erase_after.isoformat(), "now": now},
    )
    if now:
        account_erase(user=user, actor=actor, actor_label=actor_label)
        return None
    return erase_after


@transaction.atomic
def account_restore(*, user: User, actor) -> None:
    """Call off ``user``'s deletion during the grace period and let them sign in again."""
    _check_not_erased(user)
    if user.erase_after is None:
        raise ValidationError(_("This account is not awaiting erasure."))
    user.is_active = True
    user.deletion_requested = user.erase_after = None
    user.save(update_fields=["is_active", "deletion_requested", "erase_after"])
    audit_record(action=Action.ACCOUNT_RESTORE, target=user, actor=actor)


@transaction.atomic
def account_erase(*, user: User, actor, actor_label: str = "") -> User:
    """Erase ``user``'s personal data and devices, keeping the row as a tombstone; return it."""
    # Judged on the locked row: a staff click and housekeeping (or two nodes) may both get here
    # with the same user loaded before either erased it; only the first may erase.
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_not_erased(user)
    _check_not_last_superuser(user)
    identifiers = [user.get_username(), user.email]
    if user.is_active:
        # Signed out everywhere, tokens revoked and apps told first, as for any deactivation.
        user.is_active = False
        user.save(update_fields=["is_active"])
    # The browsers' Django sessions (a sign-out already flushed its own), then the records.
    engine = import_module(settings.SESSION_ENGINE)
    for session_key in (
        LoginSession.objects.filter(user=user).exclude(session_key="").values_list("session_key", flat=True)
    ):
        engine.SessionStore(session_key=session_key).delete()
    LoginSession.objects.filter(user=user).delete()
    for device in django_otp.devices_for_user(user, confirmed=None):
        device.delete()
    WebAuthnUserHandle.objects.filter(user=user).delete()
    Invitation.objects.filter(user=user).delete()
    DataExport.objects.filter(user=user).delete()
    LoginFailure.objects.filter(key__in=[account_key(i) for i in identifiers if i]).delete()
    account_erased.send(sender=User, user=user)

    label = f"erased-{secrets.token_hex(6)}"
    for field in User._meta.concrete_fields:
        if field.name not in TOMBSTONE_KEEPS:
            setattr(user, field.attname, field.get_default())
    user.username = label
    user.set_unusable_password()
    user.erase_after = None
    user.erased = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    # The admin's change history names the user by their username (LogEntry.object_repr).
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr=label)
    audit_events_anonymise(user=user, identifiers=identifiers, label=label)
    # No personal data in the record of the erasure itself: the tombstone's random name and
    # pk only. Not the subject: apps hold it, so it would say whose account this was.
    audit_record(
        action=Action.ACCOUNT_ERASE,
        target=label,
        actor=actor if actor is not None and actor.pk != user.pk else None,
        actor_label=actor_label or ("account holder" if actor is not None and actor.pk == user.pk else ""),
        detail={"user_id": user.pk},
    )
    return user


def accounts_erase_due(*, now: datetime | None = None) -> int:
    """Erase the accounts whose grace period is over; return how many."""
    now = now or timezone.now()
    due = User.objects.filter(erase_after__lte=now, erased__isnull=True, is_active=False)
    erased = 0
    for user in due.order_by("pk"):
        # One transaction per account: a failure leaves the others erased.
        account_erase(user=user, actor=None, actor_label="account deletion grace period")
        erased += 1
    return erased
