"""PostgreSQL's floors for ``make bench`` (bench/floor_pg.py) send what the provider's statements send.

The floor INSERT stands for the opaque client_credentials token's: if a migration changes the
access token table, its copy and the INSERT must follow, or the bench compares the provider with
a floor of another shape. Served here as the bench serves it: a WSGI call, its own connection.
"""

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg.conninfo import make_conninfo

from tests.conftest import authorize, basic_auth, exchange


def load_script(name: str):
    """Load bench/``name``.py by its path: bench/ is a folder of scripts, not a package."""
    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor_pg = load_script("floor_pg")

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL's floors measure PostgreSQL (make bench's PostgreSQL run)",
)
TABLE = "oidc_provider_accesstoken"


def execute(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def floor(transactional_db, make_client, signing_keys, client, monkeypatch):
    """The floor's tables and keys on the test database: a machine client and one of its tokens."""
    machine = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200
    checksum = hashlib.sha256(response.json()["access_token"].encode()).hexdigest()
    settings = connection.settings_dict
    parts = {"dbname": settings["NAME"], "user": settings["USER"], "password": settings["PASSWORD"]}
    parts |= {"host": settings["HOST"], "port": settings["PORT"]}
    monkeypatch.setenv("DATABASE_URL", make_conninfo(**{key: value for key, value in parts.items() if value}))
    monkeypatch.setattr(floor_pg, "CLIENT_ID", machine.client_id)
    monkeypatch.setattr(floor_pg, "TOKEN_CHECKSUM", checksum)
    floor_pg.create_tables(execute)
    yield machine.model
    floor_pg.close()
    # Not Django's tables: the test database's flush would not empty them, and the copy's
    # foreign keys would stop it truncating the client table.
    execute(f"DROP TABLE {floor_pg.INSERT_TABLE}, {floor_pg.BARE_TABLE}")


def call(path: str) -> tuple[str, dict | None]:
    answer: list[str] = []
    body = b"".join(floor_pg.application({"PATH_INFO": path}, lambda status, headers: answer.append(status)))
    return answer[0], json.loads(body) if body else None


def index_shapes(table: str) -> list[str]:
    """The table's indexes without their or its names: UNIQUE or not, method, columns, predicate."""
    rows = execute(f"SELECT indexdef FROM pg_indexes WHERE tablename = '{table}'")
    return sorted(re.sub(r"INDEX \S+ ON \S+ ", "INDEX ON ", definition) for (definition,) in rows)


def foreign_keys(table: str) -> list[str]:
    rows = execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype = 'f'"
    )
    return sorted(definition for (definition,) in rows)


def test_the_insert_floor_writes_into_a_copy_with_the_token_tables_indexes_and_foreign_keys(floor):
    assert index_shapes(floor_pg.INSERT_TABLE) == index_shapes(TABLE)
    assert "WHERE (user_id IS NOT NULL)" in " ".join(index_shapes(floor_pg.INSERT_TABLE))  # migration 0024
    assert foreign_keys(floor_pg.INSERT_TABLE) == foreign_keys(TABLE)
    # The bare copy: the primary key alone.
    assert index_shapes(floor_pg.BARE_TABLE) == ["CREATE UNIQUE INDEX ON USING btree (id)"]
    assert foreign_keys(floor_pg.BARE_TABLE) == []


def test_the_insert_floor_names_every_column_of_the_token_table(floor):
    columns = {
        name
        for (name,) in execute(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{TABLE}'"
        )
    }
    named = re.search(r"\(([^)]*)\) VALUES", floor_pg.INSERT_SQL)
    assert named is not None
    assert {name.strip() for name in named.group(1).split(",")} == columns - {"id"}


@pytest.mark.parametrize("path", ["/pg_insert", "/pg_insert_bare"])
def test_the_insert_floor_saves_an_opaque_client_credentials_token(floor, path):
    status, document = call(path)
    assert status == "200 OK"
    table = floor_pg.INSERT_TABLE if path == "/pg_insert" else floor_pg.BARE_TABLE
    ((application, user, token, checksum),) = execute(
        f"SELECT application_id, user_id, token, token_checksum FROM {table} WHERE id = {document['token']}"
    )
    assert (application, user, token) == (floor.pk, None, "")
    assert re.fullmatch(r"[0-9a-f]{64}", checksum)


@pytest.mark.parametrize("path", ["/pg_select", "/pg_2selects", "/pg_join"])
def test_the_lookup_floors_find_the_client_and_its_token(floor, path):
    status, document = call(path)
    assert status == "200 OK"
    assert document is not None and document["client"] == floor.pk


def test_a_floor_whose_key_is_not_found_answers_404(floor, monkeypatch):
    monkeypatch.setattr(floor_pg, "TOKEN_CHECKSUM", "0" * 64)
    assert call("/pg_join")[0] == "404 Not Found"
    assert call("/pg_2selects")[0] == "404 Not Found"
    monkeypatch.setattr(floor_pg, "CLIENT_ID", "no-such-client")
    for path in ("/pg_select", "/pg_insert", "/nowhere"):
        assert call(path)[0] == "404 Not Found"


def test_the_provider_statement_floors_send_what_userinfo_and_introspection_send(
    floor, rp, logged_in, client, monkeypatch
):
    access = exchange(client, rp, authorize(logged_in, rp)).json()["access_token"]
    # As bench.py hands them over: seed.py's statements, through JSON.
    statements = json.loads(json.dumps(load_script("seed").provider_statements(access, rp.client_id)))
    monkeypatch.setattr(floor_pg, "PROVIDER_STATEMENTS", statements)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
        auth = basic_auth(rp.client_id, rp.client_secret)
        assert client.post("/o/introspect/", {"token": access}, HTTP_AUTHORIZATION=auth).json()["active"]
    sent = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT")]
    floors = [statements["pg_userinfo"], statements["pg_introspection"]]
    assert sent == [connection.ops.compose_sql(sql, params) for sql, params in floors]
    for path in ("/pg_userinfo", "/pg_introspection"):
        status, document = call(path)
        assert status == "200 OK"
        assert isinstance(document["token"], int)
