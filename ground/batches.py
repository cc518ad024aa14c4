"""Deleting many rows without holding up the requests that write the same tables."""

import time

from django.db import connections, transaction
from django.db.models import Model, QuerySet

BATCH_SIZE = 1000
# SQLite has one writer at a time, and a request waiting for the lock polls for it every 100 ms
# at most (SQLite's busy handler): without a pause between batches the next batch takes the lock
# back first, and token requests waited seconds while 1,000,000 expired tokens were deleted
# (``make bench GROWTH=1``; docs/performance.md, "A million stored tokens"). PostgreSQL locks
# rows, not the database: no pause.
SQLITE_PAUSE = 0.1


def batched_delete(queryset: QuerySet[Model], *, batch_size: int = BATCH_SIZE) -> int:
    """Delete ``queryset`` a batch of primary keys at a time; return how many rows went.

    Each batch is looked for after the last key of the one before, so a row that stays (a
    refresh token still in use among expired ones, say) is read once, not once per batch. (In
    ``make bench GROWTH=1`` the dead rows come first, and PostgreSQL took as long either way.)
    """
    deleted, last = 0, None
    while True:
        remaining = queryset if last is None else queryset.filter(pk__gt=last)
        batch = list(remaining.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        last = batch[-1]
        # Short transactions: sign-ins and token requests write these tables meanwhile.
        with transaction.atomic(using=queryset.db):
            deleted += queryset.model._base_manager.using(queryset.db).filter(pk__in=batch).delete()[0]
        if connections[queryset.db].vendor == "sqlite":
            time.sleep(SQLITE_PAUSE)
