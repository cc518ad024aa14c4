"""What staff do to a user's account from the admin; each step is audited, never with a secret."""

from urllib.parse import urlsplit

import django_otp
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_otp.models import Device

from audit.actions import Action
from audit.services import audit_record

from .mfa import flows, policy
from .security_notices import Change, security_notice_send


def user_device(*, user, persistent_id: str) -> Device:
    """Return the user's authenticator with this django-otp persistent id, or raise ValidationError."""
    # Looked up among the user's own devices: a posted id never names another model or user.
    devices = policy.primary_devices(user)
    device = next((device for device in devices if device.persistent_id == persistent_id), None)
    if device is None:
        raise ValidationError(_("No such device."))
    return device


def user_device_rename(*, user, device: Device, name: str, actor) -> None:
    """Rename one of ``user``'s devices."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError(_("Give the device a name of at most 64 characters."))
    old = device.name
    flows.device_rename(device=device, name=name)
    audit_record(
        action=Action.USER_DEVICE_RENAME,
        target=user,
        actor=actor,
        detail={"device": device.persistent_id, "from": old, "to": name},
    )


def user_device_remove(*, user, device: Device, actor) -> None:
    """Remove one of ``user``'s devices (with the last one go the recovery codes)."""
    detail = {"device": device.persistent_id, "name": device.name}
    flows.device_remove(user=user, device=device)
    audit_record(action=Action.USER_DEVICE_REMOVE, target=user, actor=actor, detail=detail)


@transaction.atomic
def user_mfa_reset(*, user, actor) -> int:
    """Remove every second factor of ``user`` (apps, passkeys, recovery codes); return how many.

    For a user who lost every device: they sign in with the password alone again, and are taken
    through enrollment where a policy requires a second factor.
    """
    devices = list(django_otp.devices_for_user(user, confirmed=None))
    for device in devices:
        device.delete()
    audit_record(
        action=Action.USER_MFA_RESET,
        target=user,
        actor=actor,
        detail={"devices": [device.persistent_id for device in devices]},
    )
    if devices:
        security_notice_send(
            user=user,
            change=Change.MFA_RESET,
            detail=_("Signing in now needs only your password until you set up a second factor again."),
        )
    return len(devices)


def user_password_reset_send(*, user, actor) -> None:
    """E-mail ``user`` a single-use link to choose a new password ("Forgot your password?"'s mail)."""
    if not user.email:
        raise ValidationError(_("This user has no e-mail address to send the link to."))
    if not user.is_active:
        raise ValidationError(_("This account is deactivated: activate it first."))
    # The link points at the issuer, the address people know, whatever host staff use.
    issuer = urlsplit(settings.ISSUER)
    context = {
        "email": user.email,
        "domain": issuer.netloc,
        "site_name": settings.SITE_NAME,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": issuer.scheme,
    }
    PasswordResetForm().send_mail(
        "accounts/password_reset_subject.txt",
        "accounts/password_reset_email.txt",
        context,
        settings.DEFAULT_FROM_EMAIL,
        user.email,
    )
    audit_record(action=Action.USER_PASSWORD_RESET_SEND, target=user, actor=actor, detail={"to": user.email})


def user_attributes_set(*, user, attributes: dict, actor) -> list[str]:
    """Store ``attributes`` as ``user``'s; return the names that changed (audited by name, not value)."""
    before = user.attributes or {}
    changed = sorted(name for name in {*before, *attributes} if before.get(name) != attributes.get(name))
    if changed:
        user.attributes = attributes
        user.save(update_fields=["attributes", "updated_at"])
        audit_record(
            action=Action.USER_ATTRIBUTES_CHANGE, target=user, actor=actor, detail={"changed": changed}
        )
    return changed
