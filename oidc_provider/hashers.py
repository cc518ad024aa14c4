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

# 128 bits is the floor RFC 9700 and NIST treat as a strong symmetric secret.
MIN_SECRET_BITS = 128
MIN_SECRET_LENGTH = 32


def estimated_bits(secret: str) -> float:
    """Estimate the entropy of ``secret`` from its length and the character classes it uses."""
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
    return min(len(secret) * math.log2(alphabet), len(secret) * math.log2(max(distinct, 2)) * 1.5)


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
        self._check_encode_args(password, salt)
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
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
