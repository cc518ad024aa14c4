"""What a client's JWK Set may hold (RFC 7517 §5, OIDC Registration 1.0 §2 ``jwks``).

A client registers public keys only: the provider verifies its client assertions (OIDC Core 1.0
§9) and request objects (OIDC Core 1.0 §6) with them and must never hold its private keys. This
module is pure (no models), so ``Client.clean()`` and ``client_keys.py`` share it.
"""

import json
from typing import Any

from jwcrypto import jwk
from jwcrypto.common import base64url_decode

# The asymmetric algorithms a client may sign with, and the key type each needs (RFC 7518 §3,
# RFC 8037 §3.1). The same list Porchlight signs with itself.
SIGNING_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
}
# client_secret_jwt: HMAC with the client secret (OIDC Core 1.0 §9).
HMAC_ALGORITHMS = ("HS256",)
# RFC 7518 §6: members that only a private (or symmetric) key has.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_KEYS = 20
MIN_RSA_BITS = 2048


class JwkSetError(ValueError):
    """A JWK Set Porchlight refuses; the message says why."""


def jwk_set_parse(value: object) -> list[jwk.JWK]:
    """Return the public signing keys of the JWK Set ``value``; raise JwkSetError if it is refused."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise JwkSetError("The JWK Set is not JSON.") from error
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JwkSetError('A JWK Set is a JSON object with a "keys" array (RFC 7517 §5).')
    entries: list[Any] = value["keys"]
    if not entries:
        raise JwkSetError("The JWK Set has no keys.")
    if len(entries) > MAX_KEYS:
        raise JwkSetError(f"The JWK Set has more than {MAX_KEYS} keys.")
    parsed = [_key_parse(entry, index) for index, entry in enumerate(entries)]
    kids = [key.get("kid") for key in parsed if key.get("kid")]
    if len(kids) != len(set(kids)):
        raise JwkSetError("Two keys in the JWK Set have the same kid.")
    return parsed


def _key_parse(entry: object, index: int) -> jwk.JWK:
    where = f"Key {index + 1}"
    if not isinstance(entry, dict):
        raise JwkSetError(f"{where} is not a JSON object.")
    private = [member for member in PRIVATE_MEMBERS if member in entry]
    if private:
        # Never keep a private key: refusing it tells the client it has leaked one.
        raise JwkSetError(
            f"{where} holds private or symmetric key material ({', '.join(private)}): "
            "register public keys only."
        )
    if entry.get("use", "sig") != "sig":
        raise JwkSetError(f'{where} is not for signatures (its "use" is not "sig").')
    alg = entry.get("alg")
    if alg is not None and alg not in SIGNING_ALGORITHMS:
        raise JwkSetError(f"{where} is for {str(alg)[:20]!r}; accepted: {', '.join(SIGNING_ALGORITHMS)}.")
    kty = entry.get("kty")
    if kty not in {kty for kty, _ in SIGNING_ALGORITHMS.values()}:
        raise JwkSetError(
            f"{where} has a key type Porchlight does not verify with (RSA, EC P-256, OKP Ed25519)."
        )
    try:
        key = jwk.JWK(**entry)
        # Builds the key: an EC point off its curve, say, is refused here.
        key.get_op_key("verify")
    except Exception as error:  # noqa: BLE001 - jwcrypto raises several kinds for malformed keys
        raise JwkSetError(f"{where} is not a valid JWK.") from error
    if key.has_private:
        raise JwkSetError(f"{where} is a private key: register public keys only.")
    if (
        kty == "RSA"
        and int.from_bytes(base64url_decode(str(entry.get("n", ""))), "big").bit_length() < MIN_RSA_BITS
    ):
        raise JwkSetError(f"{where} is an RSA key shorter than {MIN_RSA_BITS} bits.")
    if kty in ("EC", "OKP") and entry.get("crv") not in ("P-256", "Ed25519"):
        raise JwkSetError(f"{where} is on a curve Porchlight does not verify with (P-256, Ed25519).")
    return key


def key_fits(key: jwk.JWK, alg: str) -> bool:
    """Return whether ``key`` may verify a signature made with ``alg``."""
    wanted = SIGNING_ALGORITHMS.get(alg)
    if wanted is None:
        return False
    kty, crv = wanted
    if key.get("kty") != kty or (crv is not None and key.get("crv") != crv):
        return False
    return key.get("alg") in (None, alg)
