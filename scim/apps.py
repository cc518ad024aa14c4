from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        from . import export_sections, receivers  # noqa: F401  (data export section, signal receivers)
