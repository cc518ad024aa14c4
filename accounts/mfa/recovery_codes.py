"""Recovery codes: single-use codes on django-otp's StaticDevice, for when the app is lost.

A code is deleted the moment it is used (StaticDevice.verify_token), so each works once.
"""

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

CODE_COUNT = 10
DEVICE_NAME = "Recovery codes"


@transaction.atomic
def recovery_codes_generate(user) -> list[str]:
    """Replace the user's recovery codes with ``CODE_COUNT`` new ones and return them."""
    device = StaticDevice.objects.filter(user=user).order_by("pk").first()
    if device is None:
        device = StaticDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = set()
    while len(codes) < CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


def recovery_codes_remaining(user) -> int:
    """Return how many unused recovery codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalize_code(code: str) -> str:
    # Codes are shown in lower case; accept them typed in any case, with spaces or dashes.
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_code_verify(user, code: str) -> StaticDevice | None:
    """Use up the recovery code ``code``; return its device, or None if it is not valid."""
    code = normalize_code(code)
    if not code:
        return None
    for device in StaticDevice.objects.devices_for_user(user, confirmed=True):
        with transaction.atomic():
            locked = StaticDevice.objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(code):
                return locked
    return None


def recovery_codes_delete(user) -> None:
    """Remove the user's recovery codes."""
    StaticDevice.objects.filter(user=user).delete()
