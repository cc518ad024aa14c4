"""A software WebAuthn authenticator: makes a real passkey (P-256) for registration ceremonies.

It answers django-otp-webauthn's registration options the way a browser with a platform
authenticator would (WebAuthn Level 3 §6.1 authenticator data, "none" attestation), so a test can
register a passkey through the JSON endpoints without Chromium.
"""

import base64
import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

# WebAuthn Level 3 §6.1: user present, user verified, attested credential data included.
FLAGS = 0x01 | 0x04 | 0x40


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class SoftAuthenticator:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)

    def public_key_cose(self) -> bytes:
        """Return the public key as a COSE_Key (RFC 9053 §7.1: EC2, P-256, ES256)."""
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def create(self, options: dict, *, origin: str) -> dict:
        """Return the PublicKeyCredential JSON a browser sends for navigator.credentials.create()."""
        client_data = json.dumps(
            {
                "type": "webauthn.create",
                "challenge": options["challenge"],
                "origin": origin,
                "crossOrigin": False,
            }
        ).encode()
        rp_id_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        attested = (
            bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self.public_key_cose()
        )
        auth_data = rp_id_hash + bytes([FLAGS]) + (0).to_bytes(4, "big") + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }
