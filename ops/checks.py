"""System checks of the deployment: what ``manage.py check`` reports and ``manage.py serve`` refuses."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def proxy_headers_problem() -> str | None:
    """Return why the proxy headers configured cannot be trusted under this server, or None.

    Granian passes a header spelled ``X_Forwarded_For`` as the same WSGI variable as
    ``X-Forwarded-For`` (gunicorn drops it), so behind a proxy that forwards such names a client
    could pose as the proxy. RFC 7239's ``Forwarded`` has no separator to imitate.
    """
    porchlight = settings.PORCHLIGHT
    if (
        porchlight["SERVER"] == "granian"
        and porchlight["BEHIND_PROXY"]
        and porchlight["PROXY_HEADERS"] == "x-forwarded"
        and not porchlight["PROXY_DROPS_UNDERSCORE_HEADERS"]
    ):
        return (
            "PORCHLIGHT_PROXY_HEADERS=x-forwarded under Granian: Granian passes on header names "
            "spelled with an underscore (X_Forwarded_For), which reach Porchlight as X-Forwarded-For, "
            "so a client could pose as the proxy (its address, https)."
        )
    return None


PROXY_HEADERS_HINT = (
    "Have the proxy send Forwarded (RFC 7239) and set PORCHLIGHT_PROXY_HEADERS=forwarded (the default "
    "under Granian), or, if the proxy drops or refuses header names with an underscore (nginx does "
    "by default), set PORCHLIGHT_PROXY_DROPS_UNDERSCORE_HEADERS=true. See docs/deployment.md."
)


def check_proxy_headers(
    *, app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> Sequence[checks.CheckMessage]:
    """Refuse X-Forwarded-* behind a proxy under Granian unless the proxy drops underscore names."""
    problem = proxy_headers_problem()
    return [checks.Error(problem, hint=PROXY_HEADERS_HINT, id="ops.E001")] if problem else []
