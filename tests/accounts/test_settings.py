"""Settings come from PORCHLIGHT_* variables and fail closed outside development."""

from tests.environment import load_settings


def test_settings_start_on_embedded_defaults(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    # The development secret key is generated once and kept private.
    key_file = tmp_path / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_settings_require_secret_key_for_public_issuer(tmp_path):
    result = load_settings(tmp_path, PORCHLIGHT_ISSUER="https://id.example.com")
    assert result.returncode != 0
    assert "PORCHLIGHT_SECRET_KEY" in result.stderr


def test_settings_require_key_encryption_key_for_public_issuer(tmp_path):
    result = load_settings(
        tmp_path, PORCHLIGHT_ISSUER="https://id.example.com", PORCHLIGHT_SECRET_KEY="x" * 50
    )
    assert result.returncode != 0
    assert "PORCHLIGHT_KEY_ENCRYPTION_KEY" in result.stderr


def test_settings_read_secrets_from_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 50)
    kek = tmp_path / "kek"
    kek.write_text("k" * 50)
    result = load_settings(
        tmp_path,
        PORCHLIGHT_ISSUER="https://id.example.com",
        PORCHLIGHT_SECRET_KEY_FILE=str(secret),
        PORCHLIGHT_KEY_ENCRYPTION_KEY_FILE=str(kek),
    )
    assert result.returncode == 0, result.stderr


def test_settings_refuse_plain_http_issuer_outside_loopback(tmp_path):
    result = load_settings(
        tmp_path, PORCHLIGHT_ISSUER="http://id.example.com", PORCHLIGHT_SECRET_KEY="x" * 50
    )
    assert result.returncode != 0
    assert "PORCHLIGHT_ISSUER" in result.stderr


def test_settings_use_database_url(tmp_path):
    result = load_settings(tmp_path, DATABASE_URL="postgres://u:p@127.0.0.1:5999/db")
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout


def test_settings_reject_bad_lifetime(tmp_path):
    result = load_settings(tmp_path, PORCHLIGHT_ACCESS_TOKEN_LIFETIME="soon")
    assert result.returncode != 0
    assert "PORCHLIGHT_ACCESS_TOKEN_LIFETIME" in result.stderr


def test_settings_require_staff_mfa_by_default_only_outside_loopback(tmp_path):
    staff_mfa = "settings.PORCHLIGHT['STAFF_REQUIRE_MFA']"
    public = {"PORCHLIGHT_ISSUER": "https://id.example.com", "PORCHLIGHT_SECRET_KEY": "x" * 50}
    public["PORCHLIGHT_KEY_ENCRYPTION_KEY"] = "k" * 50
    assert load_settings(tmp_path, staff_mfa, **public).stdout.strip() == "True"
    assert load_settings(tmp_path, staff_mfa).stdout.strip() == "False"
    turned_off = load_settings(tmp_path, staff_mfa, PORCHLIGHT_STAFF_REQUIRE_MFA="false", **public)
    assert turned_off.stdout.strip() == "False"
