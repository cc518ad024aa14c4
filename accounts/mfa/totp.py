"""Authenticator apps (TOTP, RFC 6238), on a django-otp device that keeps its key encrypted.

Enrollment makes an unconfirmed device; the first code the app shows confirms it, which proves
the app holds the key before the device is ever asked for at login.
"""

from base64 import b32encode

import segno
from django.db import transaction
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .models import TOTPAuthenticator

DEFAULT_NAME = "Authenticator app"


def totp_device_pending(user) -> TOTPAuthenticator:
    """Return the user's unconfirmed TOTP device, creating one (with a fresh key) if needed.

    Reusing it means reloading the enrollment page shows the key the user may already have scanned.
    """
    device = TOTPAuthenticator.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPAuthenticator.objects.create(user=user, name=DEFAULT_NAME, confirmed=False)


def manual_key(device: TOTPAuthenticator) -> str:
    """Return the key as base32 in groups of four, for typing into an app by hand."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_code_svg(device: TOTPAuthenticator) -> SafeString:
    """Return the otpauth:// provisioning URI as an inline SVG QR code."""
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(scale=4, border=4, light="#fff", dark="#000")
    # segno writes the markup itself (paths and sizes, no title or other text of ours), so it
    # contains nothing a user controls; the URI it encodes is only in the path data.
    return format_html(
        '<span role="img" aria-label="QR code for your authenticator app">{}</span>',
        mark_safe(svg),  # noqa: S308
    )


def normalize_code(code: str) -> str:
    return "".join(code.split())


@transaction.atomic
def totp_device_confirm(device: TOTPAuthenticator, code: str) -> bool:
    """Confirm ``device`` if ``code`` is the one its app shows now."""
    device = TOTPAuthenticator.objects.select_for_update().get(pk=device.pk)
    if device.confirmed or not device.verify_token(normalize_code(code)):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One authenticator app per account: any other unconfirmed attempt is dropped.
    TOTPAuthenticator.objects.filter(user_id=device.user_id, confirmed=False).delete()
    return True


def totp_verify(user, code: str) -> TOTPAuthenticator | None:
    """Return the user's confirmed TOTP device that accepts ``code``, if any."""
    code = normalize_code(code)
    for device in TOTPAuthenticator.objects.devices_for_user(user, confirmed=True):
        with transaction.atomic():
            locked = TOTPAuthenticator.objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(code):
                return locked
    return None
