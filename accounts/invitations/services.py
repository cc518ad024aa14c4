"""Inviting people: create (one, or many from a CSV file), send, resend, withdraw, accept.

An invitation makes the user at once (so staff can put them in groups), without a usable
password, and mails a link that works once and expires. Only the link token's SHA-256 is kept,
with the address the link went to: the link works only while the account still has that address.
"""

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum

from ..languages import user_language
from ..links import issuer_link
from ..models import Invitation, SignUp

MAX_IMPORT_ROWS = 1000
CSV_COLUMNS = ("email", "first_name", "last_name", "username")


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.PORCHLIGHT["INVITATION_LIFETIME"])


@dataclass(frozen=True)
class Invitee:
    """One person to invite, as staff typed them or a CSV row gave them."""

    email: str
    first_name: str = ""
    last_name: str = ""
    username: str = ""

    def cleaned(self) -> "Invitee":
        """Return this invitee normalised, or raise ValidationError saying what is wrong."""
        email = self.email.strip().lower()
        validate_email(email)
        username = (self.username.strip() or email).lower()
        User = get_user_model()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("There is already a user called %(username)s.") % {"username": username})
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                _("There is already a user with the e-mail address %(email)s.") % {"email": email}
            )
        User.username_validator(username)
        max_length = User._meta.get_field("username").max_length
        if max_length is not None and len(username) > max_length:
            raise ValidationError(f"{username} is too long for a username.")
        return Invitee(email, self.first_name.strip()[:150], self.last_name.strip()[:150], username)


def _issue(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash, invitation.sent, invitation.expires = token_checksum(token), now, now + _lifetime()
    invitation.email = invitation.user.email
    return token


def invitation_link(token: str) -> str:
    """Return the link the invited person opens (at the issuer: the address people know)."""
    # The token travels in the query string, which no access log records (gunicorn.conf.py).
    return issuer_link(f"{reverse('invitations:accept')}?{urlencode({'token': token})}")


def invitation_send(*, invitation: Invitation, token: str) -> None:
    """Mail ``invitation``'s link to the invited person, once the transaction has committed."""
    user = invitation.user
    context = {
        "user": user,
        "link": invitation_link(token),
        "expires": invitation.expires,
        "invited_by": invitation.created_by.get_full_name() or invitation.created_by.get_username()
        if invitation.created_by
        else "",
    }
    # In the language of the person it is for (their locale), whoever sends it.
    with translation.override(user_language(user)):
        subject = render_to_string("accounts/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/invitation_email.txt", context)
    to = [invitation.email]
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to))


@transaction.atomic
def invitation_create(*, invitee: Invitee, created_by) -> Invitation:
    """Make the invited user (no usable password yet) and mail them their link."""
    invitee = invitee.cleaned()
    user = get_user_model()(
        username=invitee.username,
        email=invitee.email,
        first_name=invitee.first_name,
        last_name=invitee.last_name,
    )
    user.set_unusable_password()
    user.save()
    invitation = Invitation(user=user, created_by=created_by)
    token = _issue(invitation)
    invitation.save()
    audit_record(
        action=Action.INVITATION_CREATE,
        target=user,
        actor=created_by,
        detail={"email": user.email, "expires": invitation.expires.isoformat()},
    )
    invitation_send(invitation=invitation, token=token)
    return invitation


def invitees_from_csv(text: str) -> list[Invitee]:
    """Read invitees from CSV text with a header row (email, first_name, last_name, username).

    Every row is checked before anyone is invited; the ValidationError lists every bad line.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "email" not in header or set(header) - set(CSV_COLUMNS):
        raise ValidationError(
            _("The first line must name the columns: email, and any of %(columns)s.")
            % {"columns": ", ".join(CSV_COLUMNS[1:])}
        )
    reader.fieldnames = header
    invitees, problems, seen = [], [], set()
    for row in reader:
        if reader.line_num > MAX_IMPORT_ROWS + 1:
            raise ValidationError(_("At most %(count)d people at a time.") % {"count": MAX_IMPORT_ROWS})
        values = {key: (value or "").strip() for key, value in row.items() if key in CSV_COLUMNS}
        if not any(values.values()):
            continue
        try:
            invitee = Invitee(**values).cleaned()
        except ValidationError as error:
            problems.append(
                _("Line %(line)d: %(problem)s")
                % {"line": reader.line_num, "problem": " ".join(error.messages)}
            )
            continue
        if invitee.username in seen or invitee.email in seen:
            problems.append(
                _("Line %(line)d: %(email)s appears twice.")
                % {"line": reader.line_num, "email": invitee.email}
            )
        seen |= {invitee.username, invitee.email}
        invitees.append(invitee)
    if problems:
        raise ValidationError(problems)
    if not invitees:
        raise ValidationError(_("The file names nobody to invite."))
    return invitees


@transaction.atomic
def invitations_import(*, text: str, created_by) -> list[Invitation]:
    """Invite everyone in a CSV file, or no one if any line is wrong."""
    return [invitation_create(invitee=invitee, created_by=created_by) for invitee in invitees_from_csv(text)]


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor) -> None:
    """Mail a new link (the old one stops working) with a fresh expiry."""
    if invitation.accepted:
        raise ValidationError(
            _("%(email)s has already accepted the invitation.") % {"email": invitation.user.email}
        )
    if not invitation.user.email:
        raise ValidationError(
            _("%(username)s has no e-mail address to send a link to.")
            % {"username": invitation.user.get_username()}
        )
    # To the account's address now, which may not be the one the old link went to.
    token = _issue(invitation)
    invitation.save(update_fields=["token_hash", "sent", "expires", "email"])
    audit_record(action=Action.INVITATION_RESEND, target=invitation.user, actor=actor)
    invitation_send(invitation=invitation, token=token)


@transaction.atomic
def invitation_withdraw(*, invitation: Invitation, actor) -> None:
    """Withdraw a pending invitation: its link stops working and the unused account is removed."""
    user = invitation.user
    if invitation.accepted or user.has_usable_password() or user.last_login:
        raise ValidationError(
            _("%(email)s already uses the account; deactivate the user instead.") % {"email": user.email}
        )
    audit_record(action=Action.INVITATION_WITHDRAW, target=user, actor=actor, detail={"email": user.email})
    user.delete()


def invitation_usable(invitation: Invitation) -> bool:
    """Return whether ``invitation``'s link still lets its reader choose the password."""
    return invitation.is_pending() and invitation.user.is_active and invitation.reaches_user()


def invitation_find(token: str) -> Invitation | None:
    """Return the usable invitation whose link carries ``token``, or None."""
    if not token or len(token) > 100:
        return None
    invitation = Invitation.objects.select_related("user").filter(token_hash=token_checksum(token)).first()
    return invitation if invitation is not None and invitation_usable(invitation) else None


@transaction.atomic
def invitation_accept(
    *,
    invitation: Invitation,
    password: str,
    profile: dict[str, object] | None = None,
    terms_version: str = "",
):
    """Set the invited user's password, count their e-mail as verified, and spend the link.

    With PORCHLIGHT_SIGNUP=invite the page also asks for the sign-up details: ``profile`` fields
    are saved, and ``terms_version`` (the terms accepted) is recorded as the account's sign-up.
    """
    # FOR UPDATE locks the joined user row too (SQLite: the whole database), so staff cannot change
    # the address between this check and the save.
    invitation = Invitation.objects.select_for_update().select_related("user").get(pk=invitation.pk)
    if not invitation_usable(invitation):
        # Used meanwhile (two tabs), expired while the form was open, or the address changed.
        raise ValidationError(_("This invitation link has already been used or has expired."))
    user = invitation.user
    password_validation.validate_password(password, user)
    user.set_password(password)
    # The link reached this address, so the person controls it (OIDC Core 1.0 §5.1 email_verified).
    user.email_verified = True
    for name, value in (profile or {}).items():
        setattr(user, name, value)
    user.save(update_fields=["password", "email_verified", "updated_at", *(profile or {})])
    invitation.accepted = timezone.now()
    invitation.save(update_fields=["accepted"])
    if terms_version:
        SignUp.objects.create(
            user=user,
            status=SignUp.Status.ACTIVE,
            verified=invitation.accepted,
            terms_version=terms_version,
            terms_accepted=invitation.accepted,
        )
    detail = {"terms_version": terms_version} if terms_version else {}
    audit_record(action=Action.INVITATION_ACCEPT, target=user, actor=user, detail=detail)
    return user
