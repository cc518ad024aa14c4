from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UpstreamConfig(AppConfig):
    name = "upstream"
    verbose_name = _("Upstream identity providers")
    # Encrypted with the key-encryption key (accounts/encryption.py); `manage.py reencrypt`
    # moves it to a new one.
    encrypted_fields = [("UpstreamProvider", "client_secret_encrypted")]

    def ready(self) -> None:
        from . import export_sections, receivers  # noqa: F401  (data export section, signal receivers)
