"""MFA fixtures: a user with an authenticator app and recovery codes, and TOTP codes for it."""

import json
import re
import time
from base64 import b32decode

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django_otp.oath import TOTP

from accounts.authentication import SESSION_KEY
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


STEP = "/accounts/mfa/authenticate/"


def second_factor(browser, code: str, *, method: str = "totp", next_url: str = "/accounts/"):
    """Answer the second-factor step of a pending sign-in."""
    return browser.post(STEP, {"method": method, "code": code, "next": next_url})


@pytest.fixture
def mfa_logged_in(browser, totp_device):
    """alice signed in the way her account asks: password, then her authenticator app."""
    log_in_with_password(browser)
    assert second_factor(browser, totp_code(totp_device.bin_key)).status_code == 302
    return browser


def manual_key(page: str) -> bytes:
    """Read the key the enrolment page shows for typing by hand, as an app would store it."""
    shown = re.search(r'<code class="key" id="manual-key">([A-Z2-7 ]+)</code>', page)
    assert shown, page
    key = shown.group(1).replace(" ", "")
    return b32decode(key + "=" * (-len(key) % 8))


def age_sign_in(browser, seconds: int) -> None:
    """Make the browser's sign-in ``seconds`` older, as if it had happened that long ago."""
    session = browser.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "auth_time": session[SESSION_KEY]["auth_time"] - seconds}
    session.save()


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
