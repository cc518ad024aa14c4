"""The PostgreSQL connection's prepared cursor, kept from one statement to the next.

ground/postgresql/base.py keeps one psycopg cursor per connection for the prepared statements of
the protocol endpoints. Whatever ran on it before, each statement must read its own rows: after
another statement, after an error, on a connection opened again, in a block inside another's,
and with the time zone the settings name now.
"""

from datetime import UTC, datetime

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext, override_settings

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared cursor"),
    pytest.mark.django_db,
]

MOMENT = "2026-12-07 08:30:15.25+00"


def run(sql, params):
    with connection.prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_statements_in_turn_each_read_their_own_rows():
    for number in range(3):
        assert run("SELECT %s::int + 1, %s::text", [number, "text"]) == (number + 1, "text")
        assert run("SELECT %s::timestamptz, %s::boolean", [MOMENT, True]) == (
            datetime(2026, 12, 7, 8, 30, 15, 250_000, tzinfo=UTC),
            True,
        )
        assert run("SELECT %s::text WHERE false", ["nothing"]) is None


def test_one_cursor_serves_the_connection():
    with connection.prepared_cursor() as first:
        kept = first.cursor
    with connection.prepared_cursor() as second:
        assert second.cursor is kept
        assert not kept.closed


@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_leaves_the_next_one_working():
    # As the protocol endpoints run: in autocommit, outside a test's transaction.
    with pytest.raises(DataError), connection.prepared_cursor() as cursor:
        cursor.execute("SELECT 1 / %s::int", [0])
    assert run("SELECT 1 / %s::int", [1]) == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_connection_opened_again_gets_a_cursor_of_its_own():
    with connection.prepared_cursor() as before:
        old = before.cursor
    connection.close()
    with connection.prepared_cursor() as after:
        assert after.cursor is not old
        assert after.cursor.connection is connection.connection
        after.execute("SELECT %s::int", [7])
        assert after.fetchone() == (7,)


def test_a_statement_inside_another_statements_block_leaves_its_rows_alone():
    with connection.prepared_cursor() as outer:
        outer.execute("SELECT generate_series(1, %s::int)", [3])
        assert outer.fetchone() == (1,)
        with connection.prepared_cursor() as inner:
            assert inner.cursor is not outer.cursor
            inner.execute("SELECT %s::text", ["inner"])
            assert inner.fetchone() == ("inner",)
        assert inner.cursor.closed
        assert outer.fetchall() == [(2,), (3,)]


def test_the_time_zone_the_settings_name_now_applies():
    assert run("SELECT %s::timestamptz", [MOMENT])[0].tzinfo is UTC
    with override_settings(USE_TZ=False):
        # Django's rule without time zones: naive datetimes, in the database connection's zone.
        naive = run("SELECT %s::timestamptz", [MOMENT])[0]
        assert naive.tzinfo is None
    assert run("SELECT %s::timestamptz", [MOMENT])[0] == datetime(2026, 12, 7, 8, 30, 15, 250_000, tzinfo=UTC)


def test_statements_on_the_kept_cursor_are_logged_and_counted():
    with CaptureQueriesContext(connection) as queries:
        run("SELECT %s::int", [1])
        run("SELECT %s::int", [2])
    assert [query["sql"] for query in queries.captured_queries] == ["SELECT 1::int", "SELECT 2::int"]
