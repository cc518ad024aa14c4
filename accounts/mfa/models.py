"""django-otp devices that keep no secret in the clear: encrypted TOTP keys, hashed recovery codes.

django-otp's own TOTPDevice and StaticDevice store the TOTP key and the recovery codes as plain
text, so a database dump (a backup, a read-only SQL injection) would hand over every second
factor. These devices keep django-otp's ``Device`` API (``verify_token``, ``persistent_id``,
``django_otp.login``, the admin) over storage that does not:

- a TOTP key is encrypted with the key-encryption key (accounts/encryption.py), which the
  database does not hold;
- a recovery code is kept only as a salted PBKDF2 hash, and is long enough (80 bits) that
  trying every code against a stolen hash is out of reach.

Both models are declared in ``accounts.models``, so they belong to the accounts app.
"""

import secrets
import time
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils.crypto import pbkdf2
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP

from .. import encryption

TOTP_KEY_BYTES = 20  # RFC 4226 §4 R6: 160 bits, the length of HMAC-SHA1's output.
# Failed codes are counted by the login throttle (accounts/throttling.py), shared by every worker,
# so these devices carry no per-device throttling of their own.


def new_encrypted_totp_key() -> str:
    """Return a fresh random TOTP key, encrypted with the key-encryption key."""
    return encryption.encrypt(secrets.token_bytes(TOTP_KEY_BYTES))


class TOTPAuthenticator(TimestampMixin, Device):
    """An authenticator app (TOTP, RFC 6238) whose key is stored encrypted."""

    key_encrypted = models.TextField(_("key (encrypted)"), default=new_encrypted_totp_key, editable=False)
    step = models.PositiveSmallIntegerField(_("time step (seconds)"), default=30)
    t0 = models.BigIntegerField(_("first time step (Unix time)"), default=0)
    digits = models.PositiveSmallIntegerField(_("digits"), choices=[(6, 6), (8, 8)], default=6)
    # Steps either side of now that are accepted, for a phone whose clock is a little off.
    tolerance = models.PositiveSmallIntegerField(_("tolerance (steps)"), default=1)
    drift = models.SmallIntegerField(_("known clock drift (steps)"), default=0)
    # The step of the last code accepted: only later steps are accepted after it.
    last_t = models.BigIntegerField(_("last step used"), default=-1)

    class Meta(Device.Meta):
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    @property
    def bin_key(self) -> bytes:
        """Return the key, decrypted."""
        return encryption.decrypt(self.key_encrypted)

    def verify_token(self, token) -> bool:
        """Accept ``token`` if it is the app's code for a step near now not used before."""
        token = str(token)
        if not (len(token) == self.digits and token.isascii() and token.isdigit()):
            return False
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        # RFC 6238 §5.2: allow a step or so of clock skew either way, but never accept a code
        # twice: only steps after the last one used count.
        if not totp.verify(int(token), self.tolerance, self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.drift = totp.drift
        self.set_last_used_timestamp(commit=False)
        # Never the key: `manage.py reencrypt` may have replaced it since this row was read.
        self.save(update_fields=["last_t", "drift", "last_used_at"])
        return True

    @property
    def config_url(self) -> str:
        """Return the otpauth:// URI an authenticator app scans (Google's Key Uri Format)."""
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.get_username()}"
        params = {
            "secret": b32encode(self.bin_key).decode().rstrip("="),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": self.digits,
            "period": self.step,
        }
        return f"otpauth://totp/{quote(label)}?{urlencode(params, quote_via=quote)}"


RECOVERY_CODE_BYTES = 10  # 80 bits: 16 base32 characters
RECOVERY_CODE_ITERATIONS = 100_000


def new_salt() -> str:
    return secrets.token_hex(16)


def normalize_code(code: str) -> str:
    # Codes are shown in lower case and in groups; accept them typed in any case, with or
    # without spaces or dashes.
    return "".join(ch for ch in str(code).lower() if ch.isalnum())


def recovery_code_hash(code: str, *, salt: str, iterations: int) -> str:
    """Return the stored form of recovery code ``code``."""
    return pbkdf2(normalize_code(code), salt, iterations).hex()


class RecoveryCodeDevice(TimestampMixin, Device):
    """A user's set of single-use recovery codes, each stored only as a hash.

    One salt per set: checking a typed code costs one hash, then an indexed lookup.
    """

    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    iterations = models.PositiveIntegerField(default=RECOVERY_CODE_ITERATIONS, editable=False)

    class Meta(Device.Meta):
        verbose_name = _("recovery code set")
        verbose_name_plural = _("recovery code sets")

    def code_hash(self, code: str) -> str:
        return recovery_code_hash(code, salt=self.salt, iterations=self.iterations)

    def verify_token(self, token) -> bool:
        """Use up recovery code ``token``; return whether it was one of this set's unused codes."""
        if not normalize_code(token):
            return False
        # One DELETE both checks and uses the code: of two requests racing with the same code,
        # the database lets exactly one delete the row.
        deleted, _ = self.codes.filter(code_hash=self.code_hash(token)).delete()
        if not deleted:
            return False
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["last_used_at"])
        return True


class RecoveryCode(models.Model):
    """One unused recovery code, as its hash."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="accounts_recoverycode_device_hash")
        ]

    def __str__(self) -> str:
        return f"Recovery code of {self.device}"
