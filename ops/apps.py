from django.apps import AppConfig
from django.core import checks

from ops.checks import check_proxy_headers


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        checks.register(check_proxy_headers, checks.Tags.security)
