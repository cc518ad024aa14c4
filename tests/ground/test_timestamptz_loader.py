"""PostgreSQL timestamps read by Porchlight's loader are the datetimes Django's own loader reads.

ground/postgresql/base.py parses ``timestamptz`` text with psycopg's C loader instead of the
Python one Django registers; what a query returns must not change.
"""

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader  # type: ignore[import-untyped]

from ground.postgresql.base import timestamptz_loader

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loader")

VALUES = [
    "2026-12-07 08:00:00+00",
    "2026-12-07 08:00:00.5+00",
    "2026-12-07 08:00:00.123456+00",
    "2026-06-30 23:59:59.999999+02:00",
    "1999-12-31 20:15:00-05:30",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read(value: str, *, django_loader: bool, zone: str = "UTC"):
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(f"SET TIME ZONE '{zone}'")
        if django_loader:
            register_tzloader(connection.timezone, cursor)
        try:
            cursor.execute("SELECT %s::timestamptz", [value])
            return cursor.fetchone()[0]
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")


@pytest.mark.django_db
def test_connections_read_timestamps_with_porchlights_loader():
    with connection.cursor() as wrapper:
        loader = wrapper.cursor.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, 0)
    assert loader is timestamptz_loader(connection.timezone)
    with connection.prepared_cursor() as wrapper:
        loader = wrapper.cursor.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, 0)
    assert loader is timestamptz_loader(connection.timezone)


@pytest.mark.django_db
@pytest.mark.parametrize("value", VALUES)
def test_timestamps_are_the_ones_djangos_loader_reads(value):
    ours, djangos = read(value, django_loader=False), read(value, django_loader=True)
    assert ours == djangos
    assert ours.tzinfo is djangos.tzinfo is UTC
    assert ours.replace(tzinfo=None) == djangos.replace(tzinfo=None)


@pytest.mark.django_db
@pytest.mark.parametrize("value", VALUES[:5])
def test_a_session_in_another_zone_reads_as_djangos_loader_reads(value):
    # Django replaces the zone without converting (its loader's rule); so does Porchlight's.
    ours = read(value, django_loader=False, zone="Asia/Kolkata")
    djangos = read(value, django_loader=True, zone="Asia/Kolkata")
    assert (ours, ours.tzinfo) == (djangos, djangos.tzinfo)


@pytest.mark.django_db
def test_a_timestamp_python_cannot_hold_is_the_same_error():
    for django_loader in (False, True):
        with pytest.raises(psycopg.DataError):
            read("infinity", django_loader=django_loader)


@pytest.mark.django_db
def test_a_models_datetime_round_trips(django_user_model):
    moment = datetime(2026, 12, 7, 8, 30, 15, 250_000, tzinfo=UTC)
    user = django_user_model.objects.create(username="timestamps", date_joined=moment)
    assert django_user_model.objects.get(pk=user.pk).date_joined == moment
