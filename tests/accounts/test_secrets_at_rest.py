"""No MFA secret is stored in the clear: TOTP keys are encrypted, recovery codes hashed.

Each test reads everything the database holds (sessions decoded) and looks for the secret the
user saw, in every encoding an app or a person would use.
"""

import re
import threading
from base64 import b32decode, b32encode
from urllib.parse import urlsplit

import pytest
from django.db import connection, connections

from accounts.mfa.recovery_codes import recovery_code_verify, recovery_codes_generate
from tests.accounts.conftest import database_text, log_in_with_password, totp_code
from tests.otp_plugin_tables import forget_plugin_tables, migrate_to_latest, roll_back_with_plugin_tables

ENROLL = "/accounts/mfa/totp/"
STEP = "/accounts/mfa/authenticate/"
CODES = "/accounts/mfa/recovery-codes/"


def key_forms(key: bytes) -> list[str]:
    """Return the ways a TOTP key is written down: hex (django-otp) and base32 (apps, URIs)."""
    return [key.hex(), b32encode(key).decode().rstrip("=").lower()]


def shown_key(page: str) -> bytes:
    shown = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page)
    assert shown, page
    key = shown.group(1).replace(" ", "")
    return b32decode(key + "=" * (-len(key) % 8))


def shown_codes(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)


def code_forms(code: str) -> list[str]:
    return [code.lower(), code.replace("-", "").lower()]


def test_totp_key_is_not_stored_in_cleartext(logged_in):
    key = shown_key(logged_in.get(ENROLL).content.decode())
    # Pending (not yet confirmed) ...
    stored = database_text()
    assert not [form for form in key_forms(key) if form in stored]
    # ... and in use.
    assert logged_in.post(ENROLL, {"code": totp_code(key)}).status_code == 302
    stored = database_text()
    assert not [form for form in key_forms(key) if form in stored]


def test_recovery_codes_are_not_stored_in_cleartext(mfa_logged_in, totp_device):
    response = mfa_logged_in.post(CODES)
    # Made and waiting in the session to be shown: still nowhere in the clear.
    before_shown = database_text()
    codes = shown_codes(mfa_logged_in.get(response["Location"]).content.decode())
    assert len(codes) == 10
    after_shown = database_text()
    for code in codes:
        for form in code_forms(code):
            assert form not in before_shown
            assert form not in after_shown


def test_recovery_codes_carry_at_least_80_bits(user, totp_device):
    codes = recovery_codes_generate(user)
    # 16 base32 characters (5 bits each), so a stolen hash cannot be reversed by trying them all.
    assert all(len(code.replace("-", "")) >= 16 for code in codes)
    assert len(set(codes)) == 10


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database fails concurrent transactions instead of queueing them",
)
def test_recovery_code_used_concurrently_signs_in_once(transactional_db, user, totp_device):
    code = recovery_codes_generate(user)[0]
    barrier = threading.Barrier(4)
    results, errors = [], []

    def use() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(recovery_code_verify(user, code) is not None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [False, False, False, True]


# --- rows stored before this change -----------------------------------------------------------

LEGACY_KEY = bytes(range(1, 21))
LEGACY_CODE = "k2ph4a7q"


@pytest.fixture
def legacy_devices(transactional_db, user):
    """Roll the schema back to before encrypted MFA secrets and store django-otp devices as they were."""
    old = roll_back_with_plugin_tables()
    totp = old.get_model("otp_totp", "TOTPDevice")
    static = old.get_model("otp_static", "StaticDevice")
    token = old.get_model("otp_static", "StaticToken")
    totp.objects.create(user_id=user.pk, name="Old phone", confirmed=True, key=LEGACY_KEY.hex(), last_t=5)
    device = static.objects.create(user_id=user.pk, name="Recovery codes", confirmed=True)
    token.objects.create(device=device, token=LEGACY_CODE)
    token.objects.create(device=device, token="zzzzzzzz")
    stored = database_text()
    assert LEGACY_KEY.hex() in stored and LEGACY_CODE in stored
    yield
    migrate_to_latest()
    forget_plugin_tables()


# One test for both, as rolling the schema back and forth again costs seconds of CPU.
def test_migration_encrypts_totp_keys_hashes_recovery_codes_and_the_devices_still_sign_in(
    legacy_devices, browser, client
):
    migrate_to_latest()
    stored = database_text()
    assert not [form for form in key_forms(LEGACY_KEY) if form in stored]
    assert LEGACY_CODE not in stored and "zzzzzzzz" not in stored
    # The app the user already has keeps working...
    log_in_with_password(browser)
    response = browser.post(STEP, {"method": "totp", "code": totp_code(LEGACY_KEY), "next": "/accounts/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    # ... and so do the recovery codes they saved, once each.
    log_in_with_password(client)
    response = client.post(STEP, {"method": "recovery", "code": LEGACY_CODE, "next": "/accounts/"})
    assert urlsplit(response["Location"]).path == "/accounts/"
    assert '<strong id="recovery-count">1</strong>' in client.get("/accounts/mfa/").content.decode()
    client.post("/accounts/logout/")
    log_in_with_password(client)
    again = client.post(STEP, {"method": "recovery", "code": LEGACY_CODE, "next": "/accounts/"})
    assert again.status_code == 200 and b"That code is not correct" in again.content
