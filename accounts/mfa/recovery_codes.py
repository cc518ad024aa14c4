"""Recovery codes: single-use codes for when the app is lost, stored only as hashes.

A code is deleted the moment it is used (RecoveryCodeDevice.verify_token), so each works once.
"""

import secrets
from base64 import b32encode

from django.db import transaction

from .models import RECOVERY_CODE_BYTES, RecoveryCode, RecoveryCodeDevice, new_salt

CODE_COUNT = 10
DEVICE_NAME = "Recovery codes"


def new_code() -> str:
    """Return a random code as shown to the user: 16 base32 characters in groups of four."""
    code = b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@transaction.atomic
def recovery_codes_generate(user) -> list[str]:
    """Replace the user's recovery codes with ``CODE_COUNT`` new ones and return them."""
    device = RecoveryCodeDevice.objects.filter(user=user).order_by("pk").first()
    if device is None:
        device = RecoveryCodeDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    RecoveryCodeDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.codes.all().delete()
    # A new set gets a new salt, so hashes of the old set say nothing about the new one.
    device.salt = new_salt()
    device.save(update_fields=["salt"])
    codes: set[str] = set()
    while len(codes) < CODE_COUNT:
        codes.add(new_code())
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, code_hash=device.code_hash(c)) for c in codes
    )
    return sorted(codes)


def recovery_codes_remaining(user) -> int:
    """Return how many unused recovery codes the user has."""
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


def recovery_code_verify(user, code: str) -> RecoveryCodeDevice | None:
    """Use up the recovery code ``code``; return its device, or None if it is not valid."""
    for device in RecoveryCodeDevice.objects.devices_for_user(user, confirmed=True):
        if device.verify_token(code):
            return device
    return None


def recovery_codes_delete(user) -> None:
    """Remove the user's recovery codes."""
    RecoveryCodeDevice.objects.filter(user=user).delete()
