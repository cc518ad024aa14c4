"""Signing keys and HS256 client secrets at rest, encrypted with the key-encryption key.

An HS256 client's secret is its signing key (OIDC Core 1.0 §10.1), so both are kept the same way
and both fail the same way: ``SigningKeyUnavailable`` when no configured key-encryption key
decrypts them. ``keys.py`` (the key set and signing) and ``models.py`` (a client saving its new
secret) both use this module, which imports neither.
"""

from jwcrypto import jwk

from accounts import encryption


class SigningKeyUnavailable(Exception):
    """No usable signing key (run ``manage.py rotatekeys``)."""


def encrypt_private_jwk(key: jwk.JWK) -> str:
    return encryption.encrypt(key.export_private().encode())


def decrypt_private_jwk(token: str) -> jwk.JWK:
    try:
        return jwk.JWK.from_json(encryption.decrypt(token).decode())
    except encryption.UndecryptableError as exc:
        raise SigningKeyUnavailable(
            "A signing key cannot be decrypted: neither PORCHLIGHT_KEY_ENCRYPTION_KEY nor any of "
            "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS is the key it was stored with"
        ) from exc


def encrypt_secret(secret: str) -> str:
    """Encrypt an HS256 client's secret with the key-encryption key."""
    return encryption.encrypt(secret.encode())


def decrypt_secret(token: str) -> str:
    try:
        return encryption.decrypt(token).decode()
    except encryption.UndecryptableError as exc:
        raise SigningKeyUnavailable(
            "A client secret cannot be decrypted: neither PORCHLIGHT_KEY_ENCRYPTION_KEY nor any of "
            "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS is the key it was stored with"
        ) from exc
