"""Template context every page gets (settings.TEMPLATES' context processors)."""

from django.http import HttpRequest

from .outage import wants_json


def language_switcher(request: HttpRequest) -> dict[str, bool]:
    """Whether the page may carry the language switcher (templates/base.html).

    Every page people see carries it when they are not signed in, error pages included; an error
    answered on a machine endpoint (discovery, the token endpoint, health, metrics: what
    ``wants_json`` names) does not, because the switcher's form sets a CSRF cookie, which such an
    answer must never carry (it would vary, and be kept by caches, per visitor).
    """
    return {"language_switcher": not wants_json(request)}
