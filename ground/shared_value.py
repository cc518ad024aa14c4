"""A value read from the database that hot paths must not query for: cached in two places.

The value is kept in Django's cache for ``seconds`` and, for ``local_seconds``, in the process
itself, so most reads touch neither the database nor the cache. Whoever changes what it is read
from calls ``forget_now_and_on_commit``: the copy here and the shared one are dropped at once and
again when the transaction commits (a reader in between may have cached the old value). Another
worker's own copy lasts at most ``local_seconds`` more; with a local-memory cache, its cache's
copy at most ``seconds``.
"""

import time
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")


class SharedValue(Generic[T]):
    """``read()``'s result under ``key``, read again once both cached copies are gone."""

    def __init__(
        self, key: str, read: Callable[[], T], kind: type, *, seconds: int = 60, local_seconds: int = 5
    ) -> None:
        self.key = key
        self.read = read
        # What the shared cache must hold to be taken as the value (anything else is read again).
        self.kind = kind
        self.seconds = seconds
        self.local_seconds = local_seconds
        self._local: tuple[float, T] | None = None

    def get(self) -> T:
        """Return the value: the process's copy, else the shared cache's, else read and cached."""
        now = time.monotonic()
        if self._local is not None and now - self._local[0] < self.local_seconds:
            return self._local[1]
        cached = cache.get(self.key)
        found: T
        if isinstance(cached, self.kind):
            found = cast(T, cached)
        else:
            found = self.read()
            cache.set(self.key, found, self.seconds)
        self._local = (now, found)
        return found

    def forget(self) -> None:
        """Drop the copy here and in the shared cache; the next reader reads it again."""
        self._local = None
        cache.delete(self.key)

    def forget_now_and_on_commit(self) -> None:
        """Forget now and again on commit, for a change made inside a transaction."""
        self.forget()
        transaction.on_commit(self.forget)
