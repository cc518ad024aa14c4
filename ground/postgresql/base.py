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

**Timestamps read in C.** Django reads every ``timestamptz`` value with psycopg's Python loader
(a regular expression per value) and then sets the connection's time zone on it. The loader here
parses with psycopg's C loader where psycopg has one (``psycopg[binary]``), and sets the same time
zone on the result: the same datetimes, at a fraction of the cost (a token row holds several).
"""

import select
from datetime import tzinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import get_adapters_template  # type: ignore[import-untyped]
from psycopg import adapt, adapters, pq
from psycopg.abc import AdaptContext, Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid


class _PreparingCursor(base.ServerBindingCursor):  # type: ignore[name-defined,misc]  # not in django-stubs
    """Django's server-binding cursor, asking psycopg to prepare every statement it runs.

    One is kept per connection (``DatabaseWrapper.prepared_cursor``): closing it, as Django's
    cursor wrapper does when its ``with`` block ends, only hands it back (its one-row result goes
    with the next statement, the cursor with its connection).
    """

    # Whether this is the connection's kept cursor, and whether a ``with`` block holds it now.
    kept = False
    held = False

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
        # Without prepare_threshold on the connection psycopg prepares nothing, whatever is asked.
        return super().execute(query, params, prepare=True, **kwargs)

    def close(self) -> None:
        if self.kept:
            self.held = False
        else:
            super().close()


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


@cache
def timestamptz_loader(zone: tzinfo | None) -> type[adapt.Loader]:
    """Return the ``timestamptz`` loader for a connection in ``zone``, as Django's ``register_tzloader``.

    Django's loader is psycopg's Python ``TimestamptzLoader`` whose result gets ``zone`` in place of
    its own (``datetime.replace``). This one parses with the loader psycopg registers by default
    (its C one, with the binary package) and replaces the zone alike. ``timezone`` is read by
    Django's ``create_cursor``, which registers its own loader on a cursor whose zone differs.
    """
    found = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert found is not None  # psycopg's default adapters always hold one.
    parser: type[Loader] = found

    class TimestamptzLoader(adapt.Loader):
        timezone = zone

        def __init__(self, oid: int, context: AdaptContext | None = None):
            super().__init__(oid, context)
            self._parse = parser(oid, context).load

        def load(self, data: Any) -> Any:
            return self._parse(data).replace(tzinfo=zone)

    return TimestamptzLoader


@cache
def _adapters_template(use_tz: bool, zone: tzinfo | None) -> adapt.AdaptersMap:
    # Django's template for the connection, with the loader above in place of its own.
    template = adapt.AdaptersMap(get_adapters_template(use_tz, zone))
    template.register_loader("timestamptz", timestamptz_loader(zone))
    return template


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    # The psycopg connection and time zone the kept cursor was made for, and the cursor.
    _kept_cursor: tuple[Any, tzinfo | None, _PreparingCursor] | None = None

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params["context"] = _adapters_template(settings.USE_TZ, self.timezone)
        return params

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
        """Return a cursor (Django's wrapper) whose statements are prepared once per connection.

        The psycopg cursor under the wrapper is kept for the connection (and time zone) rather
        than made anew for every statement, which cost about 4% of a UserInfo request's
        instructions (docs/performance.md): psycopg's set-up of a cursor, and its choosing and
        making of each column's loader again while the same statement runs again.
        """
        # As BaseDatabaseWrapper._cursor() does, with the preparing cursor class.
        self.close_if_health_check_failed()
        self.ensure_connection()
        zone = self.timezone
        kept = self._kept_cursor
        if kept is None or kept[0] is not self.connection or kept[1] != zone:
            cursor = self._preparing_cursor(zone)
            cursor.kept = True
            kept = self._kept_cursor = (self.connection, zone, cursor)
        cursor = kept[2]
        if cursor.held:
            # Inside another statement's block, whose rows a statement here would discard.
            cursor = self._preparing_cursor(zone)
        else:
            cursor.held = True
        return self._prepare_cursor(cursor)  # type: ignore[attr-defined]

    def _preparing_cursor(self, zone: tzinfo | None) -> _PreparingCursor:
        with self.wrap_database_errors:
            cursor = _PreparingCursor(self.connection)
        # As create_cursor does: a zone changed since the connection was made (a test's settings).
        if cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone != zone:
            cursor.adapters.register_loader("timestamptz", timestamptz_loader(zone))
        return cursor
