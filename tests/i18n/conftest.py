"""The sign-in helpers the language tests share with tests/accounts/ (a TOTP device and its codes)."""

from tests.accounts.conftest import totp_device  # noqa: F401  (a fixture)
