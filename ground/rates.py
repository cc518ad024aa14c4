"""Request rates as operators write them: ``600/60`` (600 requests per 60 seconds) or ``unlimited``.

One parser for the setting (``PORCHLIGHT_CLIENT_RATE_LIMIT``) and for each client's own value, so
both accept and refuse exactly the same text.
"""

import re
from dataclasses import dataclass

UNLIMITED = "unlimited"
# Windows longer than a day would keep a refused client waiting for hours; shorter than a second
# cannot be told apart by Retry-After (whole seconds, RFC 9110 §10.2.3).
MAX_WINDOW = 86400
MAX_REQUESTS = 10_000_000
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,6})\s*")


@dataclass(frozen=True)
class Rate:
    """At most ``requests`` requests in each window of ``seconds`` seconds."""

    requests: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds}"


def parse_rate(text: str) -> Rate | None:
    """Return the rate ``text`` names, or None for ``unlimited``; ValueError says what is wrong."""
    if text.strip().lower() == UNLIMITED:
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"write a rate as REQUESTS/SECONDS (e.g. 600/60) or {UNLIMITED}, not {text!r}")
    requests, seconds = int(match[1]), int(match[2])
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"the number of requests must be between 1 and {MAX_REQUESTS}, not {requests}")
    if not 1 <= seconds <= MAX_WINDOW:
        raise ValueError(f"the window must be between 1 and {MAX_WINDOW} seconds, not {seconds}")
    return Rate(requests, seconds)
