"""Start-up checks of the sign-up settings: what ``manage.py check`` reports and servers refuse."""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from ..passwords import breached_list_problem
from .policy import SIGNUP_FIELD_CHOICES


def check_signup_settings(
    *, app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> Sequence[checks.CheckMessage]:
    """Refuse sign-up fields that name no profile field, a bad terms URL or an unusable breach list."""
    conf = settings.PORCHLIGHT
    problems: list[checks.CheckMessage] = []
    unknown = [name for name in conf["SIGNUP_FIELDS"] if name not in SIGNUP_FIELD_CHOICES]
    if unknown:
        problems.append(
            checks.Error(
                f"PORCHLIGHT_SIGNUP_FIELDS names {', '.join(unknown)}, which sign-up cannot ask for.",
                hint=f"Choose among: {', '.join(SIGNUP_FIELD_CHOICES)}.",
                id="accounts.E001",
            )
        )
    url = conf["SIGNUP_TERMS_URL"]
    if url and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc):
        problems.append(
            checks.Error(
                f"PORCHLIGHT_SIGNUP_TERMS_URL must be an absolute http(s) URL, not {url!r}.",
                id="accounts.E002",
            )
        )
    for domain in conf["SIGNUP_EMAIL_DOMAINS"]:
        if "@" in domain or "." not in domain.strip("."):
            problems.append(
                checks.Error(
                    f"PORCHLIGHT_SIGNUP_EMAIL_DOMAINS: {domain!r} is not a domain name (e.g. example.com).",
                    id="accounts.E003",
                )
            )
    path = settings.BREACHED_PASSWORDS_FILE
    problem = breached_list_problem(path) if path else None
    if problem:
        problems.append(
            checks.Error(
                f"PORCHLIGHT_BREACHED_PASSWORDS_FILE: {problem}",
                hint="Sorted SHA-1 hashes, one a line (optionally :count), as docs/accounts.md describes.",
                id="accounts.E004",
            )
        )
    return problems
