"""Counts in the shared cache (Redis) over windows that open with their first count.

The login throttle (``accounts/throttling.py``) and the client rate limits
(``oidc_provider/rate_limits.py``) count here when ``PORCHLIGHT_CACHE_THROTTLE`` is on. ``INCR`` is
atomic, so of any number of concurrent counts exactly one gets each number: count-and-check is one
step without a lock. Beside each count ``NAME:started`` holds when its window opened (epoch
seconds), for telling a refused client when to come back.
"""

from datetime import datetime

from django.core.cache import cache


def started_name(name: str) -> str:
    """Return the name under which the window of the count ``name`` keeps its start."""
    return f"{name}:started"


def cache_count(name: str, *, window: int, now: datetime) -> int:
    """Add one to the count ``name`` and return it; the count's first one opens a ``window``."""
    for _ in range(3):
        cache.add(name, 0, timeout=window)
        try:
            count = cache.incr(name)
        except ValueError:
            # Deleted (or expired) between add and incr: add it again.
            continue
        if count == 1:
            # This one opens the window. Django's incr checks that the key exists and then
            # increments it; a key that expired in between comes back without an expiry.
            cache.touch(name, window)
            cache.set(started_name(name), int(now.timestamp()), timeout=window)
        return count
    return cache.incr(name)


def cache_window_started(name: str) -> int | None:
    """Return when the window of the count ``name`` opened (epoch seconds), if it is still open."""
    started = cache.get(started_name(name))
    return None if started is None else int(started)
