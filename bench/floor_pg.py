"""PostgreSQL's floors for ``make bench``: what one or two statements cost at all, without Django.

A bare WSGI callable (as bench/floor.py) that runs the fewest statements each protocol endpoint
must send, with psycopg 3 directly: one connection per worker process (per thread, should a
server run several), kept for the whole run, in autocommit, and every statement prepared on the
server on its first use, as Porchlight's prepared lookups and its token INSERT are
(ground/postgresql/base.py, ground/prepared_queries.py). bench.py serves it under the same
servers, workers and threads as the provider, on the same cluster right after the provider's own
rows, and reads PostgreSQL's CPU from /proc the same way, so every run shows how far the
provider's PostgreSQL figures are from what its statements cost on their own. The paths:

- ``/pg_select``: one indexed single-row SELECT by a unique text key (the client by its
  ``client_id``, as client authentication reads it).
- ``/pg_insert``: that SELECT, then one single-row INSERT into a copy of the access token table
  (``create_tables``: ``CREATE TABLE … (LIKE oidc_provider_accesstoken INCLUDING ALL)`` and the
  same foreign keys, so the same columns, indexes, partial indexes and checks), with the
  values of an opaque client_credentials token: what that grant must at least send.
- ``/pg_insert_bare``: the same, into a table of the same columns with its primary key only (no
  other index, no foreign key): what an INSERT and its commit cost before the table's indexes and
  checks, to tell the two apart.
- ``/pg_2selects``: the client's SELECT, then the access token's by its checksum (what
  introspection sends today: the client that asks, then the token).
- ``/pg_join``: one SELECT of the client joined to the token (introspection in one statement).
- ``/pg_userinfo``, ``/pg_introspection``: the very statement the provider sends for that
  endpoint, as Django compiled it (bench/seed.py, ``provider_statements``: the columns, joins and
  parameters the provider's prepared lookups use), so that the provider's PostgreSQL CPU is
  compared with its own statement's, not only with a narrower one.

The keys come from the environment (BENCH_FLOOR_CLIENT_ID, BENCH_FLOOR_TOKEN_CHECKSUM: the
seeded opaque-token client and the user's access token; BENCH_FLOOR_STATEMENTS: the provider's
statements and their parameters as JSON), the database from DATABASE_URL. Each
answer is a small JSON document; a key not found answers 404, so bench.py's check fails loudly.

``BENCH_FLOOR_SPIN_MS`` (unset: 0) makes each request also burn that much CPU in Python before
its statements, so that the floor runs at about the provider's pace (requests/s): PostgreSQL's
CPU per statement is not the same at every pace (a backend woken for each statement costs more
than one that finds the next waiting), and this tells that effect from the statements' own cost.
"""

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

CLIENT_ID = os.environ.get("BENCH_FLOOR_CLIENT_ID", "")
TOKEN_CHECKSUM = os.environ.get("BENCH_FLOOR_TOKEN_CHECKSUM", "")
# {path name: [SQL, parameters]}: what the provider sends (bench/seed.py, provider_statements).
PROVIDER_STATEMENTS: dict[str, list[Any]] = json.loads(os.environ.get("BENCH_FLOOR_STATEMENTS", "{}"))
# The copies of oidc_provider_accesstoken that create_tables makes for the INSERT floors: whole, and
# with its primary key only.
INSERT_TABLE = "bench_floor_accesstoken"
BARE_TABLE = "bench_floor_accesstoken_bare"

CLIENT_SQL = (
    "SELECT id, client_secret, hash_client_secret, grant_types, access_token_format, rate_limit "
    "FROM oidc_provider_client WHERE client_id = %s"
)
TOKEN_SQL = (
    "SELECT id, expires, scope, resource, application_id, user_id, token_family "
    "FROM oidc_provider_accesstoken WHERE token_checksum = %s"
)
JOIN_SQL = (
    "SELECT c.id, c.client_secret, c.hash_client_secret, c.may_introspect, "
    "t.id, t.expires, t.scope, t.resource, t.application_id, t.user_id, t.token_family "
    "FROM oidc_provider_client c LEFT JOIN oidc_provider_accesstoken t ON t.token_checksum = %s "
    "WHERE c.client_id = %s"
)
# Every column but the identity, as Django's INSERT of a new row names them, with RETURNING.
INSERT_SQL = (
    "INSERT INTO {} (token, token_checksum, expires, scope, resource, created, "
    "updated, auth_time, amr, acr, session_id, user_id, application_id, id_token_id, "
    "source_refresh_token_id, token_family, claims, act) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)

SPIN_SECONDS = float(os.environ.get("BENCH_FLOOR_SPIN_MS", "0")) / 1000
HEADERS = [("Content-Type", "application/json")]
_local = threading.local()


def create_tables(execute: Callable[[str], Any]) -> None:
    """Copy the migrated access token table for the INSERT floors, with ``execute(sql)``.

    ``LIKE … INCLUDING ALL`` copies the columns with their identity, defaults, checks and every
    index (migration 0024's partial ones as they are); the foreign keys it leaves out are added
    as PostgreSQL itself describes them (``pg_get_constraintdef``: the same columns, targets and
    DEFERRABLE INITIALLY DEFERRED), so an INSERT does the same index writes and checks. The bare
    copy has the same columns, defaults and identity, the primary key and nothing else.
    """
    table = "oidc_provider_accesstoken"
    execute(f"CREATE TABLE {INSERT_TABLE} (LIKE {table} INCLUDING ALL)")
    keys = execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype = 'f'"
    )
    for (definition,) in keys:
        execute(f"ALTER TABLE {INSERT_TABLE} ADD {definition}")
    execute(f"CREATE TABLE {BARE_TABLE} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
    execute(f"ALTER TABLE {BARE_TABLE} ADD PRIMARY KEY (id)")


def connection() -> psycopg.Connection[Any]:
    """Return this thread's kept connection, opened on first use (after the server forked)."""
    kept = getattr(_local, "connection", None)
    if kept is None or kept.closed:
        kept = _local.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return kept


def close() -> None:
    """Close this thread's kept connection, if it has one."""
    kept = getattr(_local, "connection", None)
    if kept is not None:
        kept.close()
        _local.connection = None


def one(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Run one prepared statement (prepared on the server at its first run) and fetch its row."""
    return connection().execute(sql, params, prepare=True).fetchone()


def select() -> dict[str, Any] | None:
    client = one(CLIENT_SQL, (CLIENT_ID,))
    return None if client is None else {"client": client[0]}


def insert(table: str = INSERT_TABLE) -> dict[str, Any] | None:
    client = one(CLIENT_SQL, (CLIENT_ID,))
    if client is None:
        return None
    now = datetime.now(UTC)
    # An opaque client_credentials token as oidc_provider/client_credentials.py saves it: no
    # user, ID token, source refresh token or sign-in; its value stored only as a checksum.
    checksum = hashlib.sha256(os.urandom(32)).hexdigest()
    params = (
        "",
        checksum,
        now + timedelta(hours=1),
        "",
        Jsonb([]),
        now,
        now,
        None,
        Jsonb([]),
        "",
        "",
        None,
        client[0],
        None,
        None,
        uuid.uuid4(),
        Jsonb({}),
        None,
    )
    row = one(INSERT_SQL.format(table), params)
    return None if row is None else {"token": row[0]}


def insert_bare() -> dict[str, Any] | None:
    return insert(BARE_TABLE)


def two_selects() -> dict[str, Any] | None:
    client = one(CLIENT_SQL, (CLIENT_ID,))
    token = one(TOKEN_SQL, (TOKEN_CHECKSUM,))
    return None if client is None or token is None else {"active": True, "client": client[0]}


def join() -> dict[str, Any] | None:
    row = one(JOIN_SQL, (TOKEN_CHECKSUM, CLIENT_ID))
    return None if row is None or row[4] is None else {"active": True, "client": row[0]}


def provider_statement(name: str) -> dict[str, Any] | None:
    sql, params = PROVIDER_STATEMENTS[name]
    row = one(sql, tuple(params))
    return None if row is None else {"token": row[0]}


ROUTES = {
    "/pg_select": select,
    "/pg_insert": insert,
    "/pg_insert_bare": insert_bare,
    "/pg_2selects": two_selects,
    "/pg_join": join,
    "/pg_userinfo": lambda: provider_statement("pg_userinfo"),
    "/pg_introspection": lambda: provider_statement("pg_introspection"),
}


def application(environ, start_response):
    """Run the statements of the floor the path names; answer a small JSON document."""
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if SPIN_SECONDS:
        # The thread's own CPU clock: the burn is CPU spent, however the machine schedules it.
        end = time.thread_time() + SPIN_SECONDS
        while time.thread_time() < end:
            pass
    document = route() if route is not None else None
    if document is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    body = json.dumps(document).encode()
    start_response("200 OK", [*HEADERS, ("Content-Length", str(len(body)))])
    return [body]
