"""Rotating the key-encryption key: old keys as fallbacks, then `manage.py reencrypt` moves everything."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from jwcrypto import jwk, jwt

from accounts import encryption
from accounts.mfa.models import TOTPAuthenticator
from audit.models import AuditEvent
from oidc_provider import keys, rotation
from oidc_provider.models import Algorithm, Client, SigningKey
from tests.accounts.conftest import log_in_with_password, totp_code
from tests.cluster import migrated_sqlite
from tests.conftest import authorize, exchange, validate_id_token
from tests.environment import ROOT, clean_environment

STEP = "/accounts/mfa/authenticate/"
OLD = "the key-encryption key everything was stored with"
NEW = "the key-encryption key that replaces it"


def use_keys(settings, current: str, *fallbacks: str) -> None:
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "KEY_ENCRYPTION_KEY": current,
        "KEY_ENCRYPTION_KEY_FALLBACKS": list(fallbacks),
    }
    keys.clear_cache()


def stored_ciphertexts() -> dict[str, str]:
    """Return every encrypted value in the database, by where it is stored."""
    values = {f"signing key {row.kid}": row.private_jwk_encrypted for row in SigningKey.objects.all()}
    values |= {
        f"client {row.client_id}": row.client_secret_encrypted
        for row in Client.objects.exclude(client_secret_encrypted="")
    }
    values |= {f"totp {row.pk}": row.key_encrypted for row in TOTPAuthenticator.objects.all()}
    return values


@pytest.fixture
def stored_under_old_key(settings, user, make_client):
    """Signing keys, an HS256 client's secret and an authenticator app, all encrypted with OLD."""
    use_keys(settings, OLD)
    rotation.keys_rotate()
    rp = make_client()
    hs_rp = make_client(name="HS256 app", algorithm=Algorithm.HS256)
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    return rp, hs_rp, device.bin_key


def everything_works(rp, hs_rp, totp_key: bytes, browser, client, *, step: int = 0) -> None:
    """Sign in with the authenticator app, then get ID tokens signed by a key and by a secret."""
    log_in_with_password(browser)
    response = browser.post(STEP, {"method": "totp", "code": totp_code(totp_key, steps_ahead=step)})
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    body = exchange(client, rp, authorize(browser, rp)).json()
    validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    body = exchange(client, hs_rp, authorize(browser, hs_rp)).json()
    secret = jwk.JWK.from_password(hs_rp.client_secret)
    claims = json.loads(jwt.JWT(jwt=body["id_token"], key=secret, algs=["HS256"]).claims)
    assert claims["aud"] == hs_rp.client_id


def test_key_encryption_old_key_as_fallback_keeps_everything_working(
    settings, stored_under_old_key, browser, client
):
    use_keys(settings, NEW, OLD)
    everything_works(*stored_under_old_key, browser, client)


def test_reencrypt_moves_every_value_to_the_newest_key(settings, stored_under_old_key, browser, client):
    before = stored_ciphertexts()
    use_keys(settings, NEW, OLD)
    out = StringIO()
    call_command("reencrypt", stdout=out)
    assert f"Re-encrypted {len(before)} value(s); 0 already used the newest key." in out.getvalue()
    after = stored_ciphertexts()
    assert after.keys() == before.keys()
    assert not [where for where in before if before[where] == after[where]]
    # The old key can go: nothing needs it any more.
    use_keys(settings, NEW)
    everything_works(*stored_under_old_key, browser, client)


def test_reencrypt_twice_changes_nothing_the_second_time(settings, stored_under_old_key):
    use_keys(settings, NEW, OLD)
    call_command("reencrypt", stdout=StringIO())
    once = stored_ciphertexts()
    out = StringIO()
    call_command("reencrypt", stdout=out)
    assert f"Re-encrypted 0 value(s); {len(once)} already used the newest key." in out.getvalue()
    assert stored_ciphertexts() == once


def test_reencrypt_refuses_and_changes_nothing_when_a_value_cannot_be_decrypted(
    settings, stored_under_old_key
):
    use_keys(settings, NEW, OLD)
    before = stored_ciphertexts()
    # One value stored under a key nobody configured any more (lost, or a copy from elsewhere).
    use_keys(settings, "a key that is not configured")
    device = TOTPAuthenticator.objects.get()
    device.key_encrypted = TOTPAuthenticator._meta.get_field("key_encrypted").default()
    device.save(update_fields=["key_encrypted"])
    use_keys(settings, NEW, OLD)
    with pytest.raises(CommandError) as refused:
        call_command("reencrypt", stdout=StringIO())
    message = str(refused.value)
    assert "Nothing was re-encrypted" in message
    assert f"accounts.TOTPAuthenticator {device.pk}" in message
    assert "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS" in message
    unchanged = {**before, f"totp {device.pk}": device.key_encrypted}
    assert stored_ciphertexts() == unchanged


def test_reencrypt_records_an_audit_event(settings, stored_under_old_key):
    count = len(stored_ciphertexts())
    use_keys(settings, NEW, OLD)
    call_command("reencrypt", stdout=StringIO())
    event = AuditEvent.objects.get(action="key_encryption_key.reencrypt")
    assert event.actor_label == "reencrypt command"
    assert event.detail["already_current"] == 0
    assert sum(event.detail["reencrypted"].values()) == count
    assert event.detail["reencrypted"]["accounts.TOTPAuthenticator.key_encrypted"] == 1
    # The audit log names what was done, never a key.
    assert OLD not in json.dumps(event.detail) and NEW not in json.dumps(event.detail)


def test_reencrypt_exits_non_zero_from_the_command_line(tmp_path):
    env = clean_environment(tmp_path, PORCHLIGHT_KEY_ENCRYPTION_KEY=OLD)
    manage = [sys.executable, "manage.py"]
    migrated_sqlite(tmp_path)
    subprocess.run([*manage, "rotatekeys"], cwd=ROOT, env=env, check=True, capture_output=True)
    env["PORCHLIGHT_KEY_ENCRYPTION_KEY"] = NEW
    refused = subprocess.run([*manage, "reencrypt"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "Nothing was re-encrypted" in refused.stderr
    # With the old key as a fallback (here from a file, one key per line) it goes through.
    fallbacks = tmp_path / "kek_fallbacks"
    fallbacks.write_text(f"an even older key\n{OLD}\n")
    env["PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS_FILE"] = str(fallbacks)
    moved = subprocess.run([*manage, "reencrypt"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert moved.returncode == 0, moved.stderr
    assert "Re-encrypted 4 value(s)" in moved.stdout


def test_reencrypt_reaches_every_encrypted_column():
    # A column named *_encrypted that no app declares would keep needing the old key forever.
    declared = {(model, name) for model, name in encryption.encrypted_fields()}
    columns = {
        (model, field.name)
        for model in django_apps.get_models()
        for field in model._meta.concrete_fields
        if field.name.endswith("_encrypted")
    }
    assert columns == declared
