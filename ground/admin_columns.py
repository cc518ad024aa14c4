"""Short values for the admin's change-list columns, so a list fits beside its filters at 1280 px."""

from datetime import datetime

from django.utils import timezone


def short_date(value: datetime | None) -> str:
    """Return ``value`` as "2026-12-06 15:43" in the site's time zone ("" for none): sortable, greppable."""
    if value is None:
        return ""
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def shorten(text: str, length: int) -> str:
    """Return ``text`` cut to ``length`` characters with an ellipsis (the full value goes in a title)."""
    return text if len(text) <= length else f"{text[: length - 1]}…"
