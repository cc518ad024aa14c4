"""Client secret hashing.

Stock DOT hashes client secrets with the *password* hasher, so every token, introspection
and revocation request pays for a deliberately slow KDF (6 requests/s on two cores).
Password KDFs exist to slow guessing of low-entropy secrets; generated client secrets carry
hundreds of bits of entropy, where a single salted SHA-256 is already infeasible to invert.
So secrets get this cheap hasher, and hand-entered secrets must be as strong as generated ones.
"""

import hashlib
import math
import secrets

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

# 128 bits is the floor RFC 9700 and NIST treat as a strong symmetric secret.
MIN_SECRET_BITS = 128
MIN_SECRET_LENGTH = 32


def _repeat_length(secret: str, start: int) -> int:
    """Return the length of the longest text at ``start`` that also begins earlier in ``secret``."""
    longest = 0
    for earlier in range(start):
        length = 0
        while start + length < len(secret) and secret[earlier + length] == secret[start + length]:
            length += 1
        longest = max(longest, length)
    return longest


def unpredictable_length(secret: str) -> int:
    """Count the characters of ``secret`` a guesser could not predict from the ones before.

    A repeat of earlier text (three or more characters) counts once, and each further step
    of a run such as "aaa", "abc" or "987" counts not at all, so "0123456789" * 4 or the
    alphabet typed out are not mistaken for long random strings.
    """
    count = index = 0
    while index < len(secret):
        repeated = _repeat_length(secret, index)
        if repeated >= 3:
            count += 1
            index += repeated
            continue
        if index >= 2:
            step = ord(secret[index]) - ord(secret[index - 1])
            if abs(step) <= 1 and step == ord(secret[index - 1]) - ord(secret[index - 2]):
                index += 1
                continue
        count += 1
        index += 1
    return count


def estimated_bits(secret: str) -> float:
    """Estimate the entropy of ``secret`` from its unpredictable length and the characters it uses."""
    alphabet = 0
    if any(c.islower() for c in secret):
        alphabet += 26
    if any(c.isupper() for c in secret):
        alphabet += 26
    if any(c.isdigit() for c in secret):
        alphabet += 10
    if any(not c.isalnum() for c in secret):
        alphabet += 33
    distinct = len(set(secret))
    if alphabet == 0:
        return 0.0
    length = unpredictable_length(secret)
    return min(length * math.log2(alphabet), length * math.log2(max(distinct, 2)) * 1.5)


def client_secret_problem(secret: str) -> str | None:
    """Return why a cleartext client secret is too weak to store with the fast hasher, or None."""
    if not secret or secret.startswith(f"{ClientSecretHasher.algorithm}$"):
        return None  # empty (public client) or already hashed
    if len(secret) < MIN_SECRET_LENGTH or estimated_bits(secret) < MIN_SECRET_BITS:
        return str(
            _(
                "This client secret is too weak: use at least %(length)d random characters "
                "(about %(bits)d bits), or leave it blank to generate one."
            )
            % {"length": MIN_SECRET_LENGTH, "bits": MIN_SECRET_BITS}
        )
    return None


class ClientSecretHasher(BasePasswordHasher):
    """Salted SHA-256 for high-entropy client secrets. Never use it for user passwords."""

    algorithm = "client_secret_sha256"

    def salt(self) -> str:
        return secrets.token_hex(16)

    def encode(self, password: str, salt: str) -> str:
        # Django's hashers all check their arguments so; django-stubs omits the private method.
        self._check_encode_args(password, salt)  # type: ignore[attr-defined]
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict[StrOrPromise, str]:
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("salt"): mask_hash(decoded["salt"], show=2),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
