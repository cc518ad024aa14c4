from django.apps import AppConfig


class OidcProviderConfig(AppConfig):
    name = "oidc_provider"
    verbose_name = "OpenID Connect provider"
    # Encrypted with the key-encryption key (keys_at_rest.py); `manage.py reencrypt` moves them to a new one.
    encrypted_fields = [
        ("SigningKey", "private_jwk_encrypted"),
        ("Client", "client_secret_encrypted"),
        ("RefreshToken", "retry_response_encrypted"),
    ]

    def ready(self) -> None:
        from . import export_sections, receivers  # noqa: F401  (data export sections, signal receivers)
