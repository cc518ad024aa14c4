"""Who must use a second factor, and who has one."""

from django.conf import settings
from django_otp_webauthn.models import WebAuthnCredential

from ..models import GroupSettings
from .models import RecoveryCodeDevice, TOTPAuthenticator


def mfa_required(user) -> bool:
    """Return whether one of the user's groups requires multi-factor authentication."""
    if not user.is_authenticated:
        return False
    return GroupSettings.objects.filter(group__user=user, require_mfa=True).exists()


def staff_mfa_required(user) -> bool:
    """Return whether ``user`` must use a second factor to open the admin (PORCHLIGHT_STAFF_REQUIRE_MFA)."""
    return bool(user.is_authenticated and user.is_staff and settings.PORCHLIGHT["STAFF_REQUIRE_MFA"])


def passkeys(user) -> list[WebAuthnCredential]:
    """Return the user's passkeys and security keys."""
    return list(WebAuthnCredential.objects.devices_for_user(user, confirmed=True).order_by("pk"))


def primary_devices(user) -> list:
    """Return the user's authenticators other than recovery codes: TOTP apps, then passkeys."""
    return [*TOTPAuthenticator.objects.devices_for_user(user, confirmed=True).order_by("pk"), *passkeys(user)]


def has_second_factor(user) -> bool:
    """Return whether the user can complete a second-factor step (any usable device)."""
    if not user.is_authenticated:
        return False
    if TOTPAuthenticator.objects.devices_for_user(user, confirmed=True).exists():
        return True
    if WebAuthnCredential.objects.devices_for_user(user, confirmed=True).exists():
        return True
    return (
        RecoveryCodeDevice.objects.devices_for_user(user, confirmed=True).filter(codes__isnull=False).exists()
    )
