from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from ops.checks import check_proxy_headers


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        checks.register(check_proxy_headers, checks.Tags.security)
