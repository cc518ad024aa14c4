"""Encryption at rest with the key-encryption key, and moving stored values to a new one.

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256). The newest key,
``PORCHLIGHT_KEY_ENCRYPTION_KEY``, encrypts; it and every older key still listed in
``PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS`` decrypt. So the key can be replaced without
downtime: configure the new key with the old one as a fallback, run ``manage.py reencrypt``,
then drop the fallback.

Each app names the model fields it keeps encrypted this way in its ``AppConfig.encrypted_fields``
(``[("Model", "field"), ...]``), so re-encryption reaches them all without this app importing
any other.
"""

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, transaction

from audit.actions import Action
from audit.services import audit_record


class UndecryptableError(Exception):
    """No configured key-encryption key decrypts the value."""


def _fernet(secret: str) -> Fernet:
    # Any string is accepted as a key; SHA-256 turns it into Fernet's 32 bytes.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def _fernets() -> list[Fernet]:
    """Return a Fernet per configured key, the newest first."""
    config = settings.PORCHLIGHT
    secrets = [config["KEY_ENCRYPTION_KEY"], *config["KEY_ENCRYPTION_KEY_FALLBACKS"]]
    return [_fernet(secret) for secret in secrets]


def encrypt(data: bytes) -> str:
    """Encrypt ``data`` with the newest key-encryption key."""
    return _fernets()[0].encrypt(data).decode()


def decrypt(token: str) -> bytes:
    """Decrypt ``token`` with whichever configured key-encryption key it was made with."""
    try:
        return MultiFernet(_fernets()).decrypt(token.encode())
    except InvalidToken as exc:
        raise UndecryptableError(
            "no configured key-encryption key (PORCHLIGHT_KEY_ENCRYPTION_KEY or "
            "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS) decrypts it"
        ) from exc


def is_current(token: str) -> bool:
    """Return whether ``token`` was encrypted with the newest key-encryption key."""
    try:
        _fernets()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """Return ``token``'s value encrypted with the newest key-encryption key."""
    try:
        return MultiFernet(_fernets()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableError(
            "no configured key-encryption key (PORCHLIGHT_KEY_ENCRYPTION_KEY or "
            "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS) decrypts it"
        ) from exc


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Return every (model, field) the installed apps declare as encrypted with the key-encryption key."""
    return [
        (config.get_model(model_name), field_name)
        for config in apps.get_app_configs()
        for model_name, field_name in getattr(config, "encrypted_fields", ())
    ]


@dataclass
class ReencryptResult:
    # "app_label.Model.field" -> values re-encrypted with the newest key.
    reencrypted: dict[str, int] = field(default_factory=dict)
    # Values that already were.
    current: int = 0

    @property
    def total_reencrypted(self) -> int:
        return sum(self.reencrypted.values())


@transaction.atomic
def encrypted_values_reencrypt(*, actor_label: str) -> ReencryptResult:
    """Re-encrypt every stored encrypted value with the newest key-encryption key.

    All or nothing: a value no configured key decrypts raises ``UndecryptableError`` (naming it)
    and leaves every value as it was. Values already under the newest key are left alone, so
    running it again changes nothing.
    """
    result = ReencryptResult()
    for model, field_name in encrypted_fields():
        name = f"{model._meta.label}.{field_name}"
        result.reencrypted[name] = 0
        rows = model._base_manager.exclude(**{field_name: ""}).values_list("pk", field_name)
        for pk, token in rows.iterator():
            if is_current(token):
                result.current += 1
                continue
            try:
                new = reencrypt(token)
            except UndecryptableError as exc:
                raise UndecryptableError(f"{name} of {model._meta.label} {pk}: {exc}") from exc
            # Only if unchanged meanwhile: a value written since is already under the newest key.
            unchanged = model._base_manager.filter(pk=pk, **{field_name: token})
            result.reencrypted[name] += unchanged.update(**{field_name: new})
    audit_record(
        action=Action.KEY_ENCRYPTION_KEY_REENCRYPT,
        target=f"{result.total_reencrypted} value(s)",
        actor_label=actor_label,
        detail={"reencrypted": result.reencrypted, "already_current": result.current},
    )
    return result
