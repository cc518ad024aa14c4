from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core import checks
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = _("Accounts")
    # Encrypted with the key-encryption key (encryption.py); `manage.py reencrypt` moves them to a new one.
    encrypted_fields = [("TOTPAuthenticator", "key_encrypted"), ("DataExport", "payload_encrypted")]

    def ready(self) -> None:
        from . import sessions  # noqa: F401  (signal receivers)
        from .signup.checks import check_signup_settings

        checks.register(check_signup_settings)


class PorchlightAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on a site that opens only through Porchlight's sign-in (admin_site.py)."""

    default = False
    default_site = "accounts.admin_site.PorchlightAdminSite"
