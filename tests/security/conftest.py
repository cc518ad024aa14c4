"""The accounts suite's MFA fixtures, for the attacks on second factors."""

from tests.accounts.conftest import mfa_logged_in, passkey, recovery_codes, totp_device  # noqa: F401
