from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = _("SCIM provisioning")

    def ready(self) -> None:
        from . import export_sections, receivers  # noqa: F401  (data export section, signal receivers)
