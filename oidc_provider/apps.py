from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OidcProviderConfig(AppConfig):
    name = "oidc_provider"
    verbose_name = _("OpenID Connect provider")
    # Encrypted with the key-encryption key (keys_at_rest.py); `manage.py reencrypt` moves them to a new one.
    encrypted_fields = [
        ("SigningKey", "private_jwk_encrypted"),
        ("Client", "client_secret_encrypted"),
        ("RefreshToken", "retry_response_encrypted"),
    ]

    def ready(self) -> None:
        from . import export_sections, receivers  # noqa: F401  (data export sections, signal receivers)
