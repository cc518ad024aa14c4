"""Django's PostgreSQL backend (psycopg 3), minus two costs per request on a kept connection.

settings.py selects it (``ENGINE``) for every PostgreSQL ``DATABASE_URL``.

**The health check.** With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first
statement of every request on a connection it kept, so that a connection the server has ended
(restart, failover, ``pg_terminate_backend``, ``idle_session_timeout``) is replaced instead of
failing the request. A server that ends a connection sends its error and closes the socket, which
makes the socket readable; an idle connection in good order has nothing to read. So the check
here first polls the socket without waiting: nothing to read, the connection is taken as usable
with no round trip; anything to read (the error, or a notice the server sent meanwhile), Django's
``SELECT 1`` runs as before and a dead connection is closed and reopened for the request. A
connection whose peer vanished without a word (no FIN, a cut cable) passes both checks alike,
until TCP gives up; the failed request then closes it (``close_if_unusable_or_obsolete``).

**Prepared lookups.** ``prepared_cursor()`` gives a cursor whose statements PostgreSQL parses and
plans once per connection (psycopg's server-side prepared statements) and then only executes:
for the one-row lookups of the protocol endpoints (ground/prepared_queries.py) planning cost
PostgreSQL more CPU than running them (a joined token row: 0.28 ms planning, 0.08 ms executing;
``BENCH_STATEMENTS=1 make bench``, docs/performance.md). Only those statements are prepared; every
other query keeps Django's client-side binding. With ``CONN_MAX_AGE`` 0 (a connection per request,
as pgbouncer in transaction mode needs) nothing is prepared: settings.py leaves psycopg's
``prepare_threshold`` unset, and the cursor binds on the server without naming a statement.
"""

import select
from typing import Any

from django.db.backends.postgresql import base, operations
from psycopg import pq


class _PreparingCursor(base.ServerBindingCursor):  # type: ignore[name-defined,misc]  # not in django-stubs
    """Django's server-binding cursor, asking psycopg to prepare every statement it runs."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
        # Without prepare_threshold on the connection psycopg prepares nothing, whatever is asked.
        return super().execute(query, params, prepare=True, **kwargs)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: Any, params: Any) -> Any:
        # A prepared statement leaves psycopg no query text: show the statement as the client-
        # binding cursors' is shown (query logging, assertNumQueries), its values in place.
        if isinstance(cursor, _PreparingCursor):
            return self.compose_sql(sql, params)
        return super().last_executed_query(cursor, sql, params)


def _quiet(connection: Any) -> bool:
    """Return whether ``connection`` is idle and open with nothing from the server to read."""
    pgconn = connection.pgconn
    if (
        connection.closed
        or pgconn.status != pq.ConnStatus.OK
        or pgconn.transaction_status != pq.TransactionStatus.IDLE
    ):
        return False
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def close_if_health_check_failed(self) -> None:
        # Django's attributes, absent from django-stubs.
        state = vars(self)
        if (
            self.connection is not None
            and state["health_check_enabled"]
            and not state["health_check_done"]
            and not self.pool  # type: ignore[attr-defined]
            and _quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def prepared_cursor(self) -> Any:
        """Return a cursor (Django's wrapper) whose statements are prepared once per connection."""
        # As BaseDatabaseWrapper._cursor() does, with the preparing cursor class.
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(_PreparingCursor(self.connection))  # type: ignore[attr-defined]
