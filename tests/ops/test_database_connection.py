"""A kept PostgreSQL connection the server has ended is replaced before a request uses it.

ground/postgresql checks a kept connection by polling its socket instead of sending ``SELECT 1``
before every request; a server that ends a backend (restart, ``pg_terminate_backend``,
``idle_session_timeout``) leaves the socket readable, and then the connection is checked and
replaced. The requests that follow are answered as if nothing had happened.
"""

import json
import time
from urllib.parse import urlsplit

import psycopg
import requests

from tests.cluster import manage, served_provider
from tests.conftest import concurrent_database


def client_credentials(base: str, client: dict) -> requests.Response:
    return requests.post(
        base + "/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )


def terminate_backends(database_url: str) -> int:
    """End every other connection to the database, as an administrator would; return how many."""
    parts = urlsplit(database_url)
    with psycopg.connect(database_url, autocommit=True) as admin:
        (ended,) = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [parts.path.lstrip("/")],
        ).fetchall()[0]
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [parts.path.lstrip("/")],
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return ended


@concurrent_database
def test_connection_the_server_ended_is_replaced_without_a_failed_request(tmp_path):
    with served_provider(tmp_path, workers=1) as provider:
        client = json.loads(
            manage(provider.env, "createclient", "Backend", "--grant-type", "client_credentials", "--json")
        )
        for _ in range(3):
            assert client_credentials(provider.url, client).status_code == 200, provider.log_tail()
        token = client_credentials(provider.url, client).json()["access_token"]

        assert terminate_backends(provider.env["DATABASE_URL"]) >= 1

        # The worker's kept connection is gone: each request still gets its answer.
        assert client_credentials(provider.url, client).status_code == 200, provider.log_tail()
        userinfo = requests.get(
            provider.url + "/o/userinfo/", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert userinfo.status_code in (200, 403), provider.log_tail()
        assert "porchlight.outage" not in provider.log.read_text()
