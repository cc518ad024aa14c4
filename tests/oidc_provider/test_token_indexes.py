"""The access token table's indexes: partial on PostgreSQL where most rows have no value (migration 0024)."""

import pytest
from django.db import IntegrityError, connection, transaction

from oidc_provider.models import AccessToken, IDToken
from tests.conftest import basic_auth

TABLE = "oidc_provider_accesstoken"
# column -> the rows PostgreSQL indexes
PARTIAL = {
    "user_id": "(user_id IS NOT NULL)",
    "id_token_id": "(id_token_id IS NOT NULL)",
    "source_refresh_token_id": "(source_refresh_token_id IS NOT NULL)",
    "session_id": "((session_id)::text <> ''::text)",
}


def indexes() -> dict[str, dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, TABLE)
    return {
        columns[0]: constraint
        for constraint in found.values()
        if (columns := constraint["columns"])
        and len(columns) == 1
        and (constraint["index"] or constraint["unique"])
        and not constraint["primary_key"]
    }


@pytest.fixture
def machine(make_client, signing_keys):
    return make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])


def test_token_indexes_cover_the_columns_queries_compare(db):
    found = indexes()
    for column in PARTIAL:
        assert column in found, column
    # The one-to-one links stay unique.
    assert found["id_token_id"]["unique"] and found["source_refresh_token_id"]["unique"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the full indexes")
def test_token_indexes_are_partial_on_postgresql_and_serve_lookups_by_value(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
        definitions = [row[0] for row in cursor.fetchall()]
        for column, predicate in PARTIAL.items():
            (definition,) = [d for d in definitions if f"btree ({column})" in d]
            assert definition.endswith(f"WHERE {predicate}"), definition
        # A lookup by value uses the partial index, prepared with a parameter as well.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        for column in ("user_id", "id_token_id", "source_refresh_token_id"):
            cursor.execute(f"PREPARE lookup_{column}(bigint) AS SELECT id FROM {TABLE} WHERE {column} = $1")
            cursor.execute(f"EXPLAIN EXECUTE lookup_{column}(1)")
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert f"_{column}_" in plan and "Index" in plan, plan
        cursor.execute(f"EXPLAIN SELECT id FROM {TABLE} WHERE session_id = 'a-session'")
        plan = " ".join(row[0] for row in cursor.fetchall())
        assert "session_id" in plan and "Index" in plan, plan


def test_token_one_to_one_links_stay_unique(client, machine):
    auth = basic_auth(machine.client_id, machine.client_secret)
    for _ in range(2):
        assert (
            client.post(
                "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth
            ).status_code
            == 200
        )
    first, second = AccessToken.objects.all()[:2]
    # Many tokens without an ID token; an ID token links to one access token only.
    assert first.id_token_id is None and second.id_token_id is None
    id_token = IDToken.objects.create(
        application=machine.model, jti="00000000-0000-0000-0000-000000000001", expires=first.expires
    )
    first.id_token = id_token
    first.save()
    second.id_token = id_token
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
