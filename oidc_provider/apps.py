from django.apps import AppConfig


class OidcProviderConfig(AppConfig):
    name = "oidc_provider"
    verbose_name = "OpenID Connect provider"
