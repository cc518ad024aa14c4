"""Signing keys: creation (stored encrypted, keys_at_rest.py), the published key set, and signing.

Keys are rows of ``SigningKey``. Each worker keeps the decoded key set for at most
``PORCHLIGHT["METADATA_CACHE_SECONDS"]``, so a rotation made anywhere reaches every worker and
node within that bound without a restart, and the hot paths (token, JWKS) query nothing.
"""

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from jwcrypto import jwk, jws, jwt
from jwcrypto.common import base64url_encode, json_encode
from jwcrypto.jwa import JWA

from .keys_at_rest import SigningKeyUnavailable, decrypt_private_jwk, decrypt_secret, encrypt_private_jwk
from .models import KEY_ALGORITHMS, Algorithm, Client, SigningKey

# RFC 7518 §3 / RFC 8037 §3.1: the key type each algorithm needs.
KEY_PARAMS: dict[str, dict[str, Any]] = {
    Algorithm.RS256: {"kty": "RSA", "size": 2048},
    Algorithm.PS256: {"kty": "RSA", "size": 2048},
    Algorithm.ES256: {"kty": "EC", "crv": "P-256"},
    Algorithm.EDDSA: {"kty": "OKP", "crv": "Ed25519"},
}

# Hash for at_hash / c_hash (OIDC Core 1.0 §3.1.3.6): the one in the alg. For EdDSA with
# Ed25519 the conformance suite and node-oidc-provider use SHA-512.
HASH_FOR_ALG: dict[str, Callable[[bytes], "hashlib._Hash"]] = {
    Algorithm.RS256: hashlib.sha256,
    Algorithm.PS256: hashlib.sha256,
    Algorithm.ES256: hashlib.sha256,
    Algorithm.EDDSA: hashlib.sha512,
    Algorithm.HS256: hashlib.sha256,
}


def _secret_key(client: Client) -> jwk.JWK:
    """Return the HS256 key of ``client``: its secret (OIDC Core 1.0 §10.1)."""
    if not client.client_secret_encrypted:
        raise SigningKeyUnavailable(f"HS256 client {client.client_id} has no stored secret; reset it")
    secret = decrypt_secret(client.client_secret_encrypted).encode()
    return jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(secret).decode().rstrip("="))


def public_jwk_for(key: jwk.JWK, algorithm: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(key.export_public())
    data.update({"kid": key.thumbprint(), "alg": algorithm, "use": "sig"})
    return data


def signing_key_create(*, algorithm: str, state: str = SigningKey.State.NEXT) -> SigningKey:
    """Generate and store a new key for ``algorithm``."""
    key = jwk.JWK.generate(**KEY_PARAMS[algorithm])
    return signing_key_store(key=key, algorithm=algorithm, state=state)


def signing_key_store(*, key: jwk.JWK, algorithm: str, state: str) -> SigningKey:
    """Store an existing private key for ``algorithm`` (encrypted) and return its row."""
    if not key.has_private:
        raise ValueError("a signing key needs its private part")
    now = timezone.now()
    row = SigningKey.objects.create(
        algorithm=algorithm,
        kid=key.thumbprint(),
        state=state,
        public_jwk=public_jwk_for(key, algorithm),
        private_jwk_encrypted=encrypt_private_jwk(key),
        activated_at=now if state == SigningKey.State.ACTIVE else None,
    )
    clear_cache()
    return row


@dataclass(frozen=True)
class KeySet:
    # algorithm -> [(signs from, epoch seconds; kid; encrypted private key)], oldest first. A
    # forced rotation gives the new key a start a little in the future and the old one signs
    # until then (rotation.py), so every node publishes a key before any node signs with it.
    # Private keys are decrypted on first use, so JWKS and discovery keep working (public parts
    # only) even when the key-encryption key is wrong.
    signers: dict[str, list[tuple[float, str, str]]]
    by_kid: dict[str, tuple[str, jwk.JWK]]  # kid -> (algorithm, public key)
    jwks: dict[str, Any]
    jwks_body: bytes
    etag: str
    loaded_at: float

    def signer(self, algorithm: str) -> tuple[str, str] | None:
        """Return the kid and encrypted private key that sign ``algorithm`` now, or None."""
        now = time.time()
        current = None
        for starts, kid, encrypted in self.signers.get(algorithm, []):
            if starts <= now:
                current = (kid, encrypted)
        return current

    @property
    def active(self) -> dict[str, tuple[str, str]]:
        """Return algorithm -> (kid, encrypted private key) of the keys signing now."""
        return {alg: signer for alg in self.signers if (signer := self.signer(alg)) is not None}


_lock = threading.Lock()
_cached: KeySet | None = None
# kid -> decrypted private key; a kid names one key forever (RFC 7638 thumbprint).
_decrypted: dict[str, jwk.JWK] = {}


def clear_cache() -> None:
    """Forget this worker's cached key set (other workers refresh within the cache bound)."""
    global _cached
    _cached = None
    _decrypted.clear()


def _load() -> KeySet:
    rows = list(SigningKey.objects.order_by("algorithm", "-created"))
    now = timezone.now()
    signers: dict[str, list[tuple[float, str, str]]] = {}
    by_kid = {}
    published = []
    for row in rows:
        public = jwk.JWK(**row.public_jwk)
        by_kid[row.kid] = (row.algorithm, public)
        published.append(row.public_jwk)
        # The active key, and a just-retired one that signs until its successor's start.
        if row.state == SigningKey.State.ACTIVE or (
            row.state == SigningKey.State.RETIRED and row.retired_at and row.retired_at > now
        ):
            starts = (row.activated_at or row.created).timestamp()
            signers.setdefault(row.algorithm, []).append((starts, row.kid, row.private_jwk_encrypted))
    for candidates in signers.values():
        candidates.sort()
    document = {"keys": published}
    body = json.dumps(document, sort_keys=True).encode()
    return KeySet(
        signers=signers,
        by_kid=by_kid,
        jwks=document,
        jwks_body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        loaded_at=time.monotonic(),
    )


def key_set() -> KeySet:
    """Return the current key set, reloading it when older than the cache bound."""
    global _cached
    current = _cached
    ttl = settings.PORCHLIGHT["METADATA_CACHE_SECONDS"]
    if current is None or time.monotonic() - current.loaded_at > ttl:
        with _lock:
            current = _cached
            if current is None or time.monotonic() - current.loaded_at > ttl:
                current = _cached = _load()
    return current


def key_set_held() -> KeySet | None:
    """Return the key set this process holds now, without loading one (None: none is held)."""
    return _cached


def usable_algorithms() -> list[str]:
    """Return the algorithms that have an active key, in a stable order."""
    current = key_set()
    return [alg for alg in KEY_ALGORITHMS if current.signer(alg) is not None]


def id_token_algorithms() -> list[str]:
    """Return the ID token algorithms on offer: those with an active key, and always HS256."""
    return [*usable_algorithms(), Algorithm.HS256]


def sign(claims: dict[str, Any], *, algorithm: str, typ: str = "JWT") -> str:
    """Sign ``claims`` as a compact JWS with the active key for ``algorithm``."""
    signer = key_set().signer(algorithm)
    if signer is None:
        raise SigningKeyUnavailable(f"No active {algorithm} signing key; run `manage.py rotatekeys`")
    kid, encrypted = signer
    key = _decrypted.get(kid)
    if key is None:
        key = _decrypted[kid] = decrypt_private_jwk(encrypted)
    return _compact_jws({"alg": algorithm, "typ": typ, "kid": kid}, claims, key)


def sign_with_secret(claims: dict[str, Any], *, client: Client, typ: str = "JWT") -> str:
    """Sign ``claims`` with HS256 and ``client``'s secret; no kid, as no key is published."""
    return _compact_jws({"alg": Algorithm.HS256, "typ": typ}, claims, _secret_key(client))


def _compact_jws(header: dict[str, str], claims: dict[str, Any], key: jwk.JWK) -> str:
    """Return ``claims`` signed with ``key`` as a compact JWS (RFC 7515 §7.1) under ``header``."""
    # jwcrypto's JWT and JWS objects deep-copy their header registries for every token: more
    # CPU than an ES256 signature. The JWA primitive signs the same input, with the
    # key's own use and key_ops checks. (typeshed's jwcrypto stubs say json_encode takes a str,
    # though it encodes any JSON value, and give the signing algorithms no sign().)
    signing_input = f"{base64url_encode(json_encode(header))}.{base64url_encode(json_encode(claims))}"  # type: ignore[arg-type]
    signature = JWA.signing_alg(header["alg"]).sign(key, signing_input.encode("ascii"))  # type: ignore[attr-defined]
    return f"{signing_input}.{base64url_encode(signature)}"


def token_hash(value: str, algorithm: str) -> str:
    """Return at_hash / c_hash for ``value``: left half of the alg's hash (OIDC Core §3.1.3.6)."""
    digest = HASH_FOR_ALG.get(algorithm, hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def _key_for(token: str) -> tuple[str, jwk.JWK] | None:
    """Return the algorithm and key that verify ``token``, or None if it is not ours.

    A managed key is named by kid. An HS256 token (an id_token_hint) has none: its unverified
    ``aud`` names the client whose secret is the key, if that client uses HS256.
    """
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
        if not isinstance(header, dict):
            return None
        if header.get("alg") == Algorithm.HS256:
            audience = json.loads(parsed.objects["payload"]).get("aud")
            audience = audience[0] if isinstance(audience, list) and len(audience) == 1 else audience
            if not isinstance(audience, str):
                return None
            client = Client.objects.filter(client_id=audience, algorithm=Algorithm.HS256).first()
            return (Algorithm.HS256, _secret_key(client)) if client else None
    except SigningKeyUnavailable:
        return None
    except Exception:  # noqa: BLE001 - any malformed input is simply "not ours"
        return None
    kid = header.get("kid")
    entry = key_set().by_kid.get(kid) if isinstance(kid, str) else None
    if entry is None or header.get("alg") != entry[0]:
        return None
    return entry


def verify(token: str, *, check_expiry: bool = True) -> dict[str, Any] | None:
    """Return the claims of an ID token signed by a published key or an HS256 client's secret, or None."""
    entry = _key_for(token)
    if entry is None:
        return None
    try:
        checked = jwt.JWT(
            key=entry[1],
            jwt=token,
            algs=[entry[0]],
            check_claims=None if check_expiry else {},
        )
        claims = json.loads(checked.claims)
    except Exception:  # noqa: BLE001
        return None
    return claims if isinstance(claims, dict) else None
