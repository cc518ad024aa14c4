"""MFA fixtures: a user with an authenticator app and recovery codes, and TOTP codes for it."""

import json
import time

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django_otp.oath import TOTP

from accounts.mfa.models import TOTPAuthenticator
from accounts.mfa.recovery_codes import recovery_codes_generate
from tests.conftest import PASSWORD


def totp_code(key: bytes, *, steps_ahead: int = 0) -> str:
    """Return the code an authenticator app holding ``key`` shows (RFC 6238, 30 s, 6 digits).

    ``steps_ahead`` gives a later step's code: the server accepts one step either side, and
    never a step at or before the last one used, so a second login in a test uses the next.
    """
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


@pytest.fixture
def totp_device(user) -> TOTPAuthenticator:
    return TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)


@pytest.fixture
def recovery_codes(user, totp_device) -> list[str]:
    return recovery_codes_generate(user)


def database_text() -> str:
    """Return every value stored in the database as lower-case text, session data decoded.

    Binary columns appear both as hex and as raw bytes, so a secret cannot hide in an encoding.
    """
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        chunks += [raw.hex(), raw.decode("latin-1")]
                    else:
                        chunks.append(str(value))
    chunks += [json.dumps(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(chunks).lower()


def log_in_with_password(browser, *, next_url: str = "") -> object:
    data = {"username": "alice", "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return browser.post("/accounts/login/", data)


@pytest.fixture
def passkey(user):
    """A registered passkey (the key material is never used by these tests)."""
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.create(
        user=user,
        name="Passkey",
        confirmed=True,
        credential_id=b"credential-1",
        public_key=b"not-a-real-key",
        aaguid="00000000-0000-0000-0000-000000000000",
    )
