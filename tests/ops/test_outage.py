"""Faults a client can do nothing about answer 503 with Retry-After, never a 500 with a traceback."""

import json
import re
import time

import pytest
import requests
from django.test import Client as BrowserClient

from tests.cluster import (
    collected_static,
    free_port,
    gunicorn_node,
    manage,
    migrated_postgres,
    node_environment,
    postgres_cluster,
)
from tests.conftest import basic_auth


def client_credentials(base: str, client: dict) -> requests.Response:
    return requests.post(
        base + "/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )


def assert_json_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_database_outage_answers_503_and_recovers(tmp_path):
    with postgres_cluster() as cluster:
        env = node_environment(tmp_path, cluster.url, ISSUER="http://127.0.0.1:8000")
        migrated_postgres(env)
        collected_static(tmp_path)
        manage(env, "rotatekeys", "-v0")
        client = json.loads(
            manage(env, "createclient", "Backend", "--grant-type", "client_credentials", "--json")
        )
        log = tmp_path / "node.log"
        with gunicorn_node(env, log) as node:
            token = client_credentials(node, client)
            assert token.status_code == 200
            access_token = token.json()["access_token"]
            person = requests.Session()
            login_page = person.get(node + "/accounts/login/", timeout=10)
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
            before = log.read_text()

            cluster.stop()
            failed = [
                client_credentials(node, client),
                requests.get(
                    node + "/o/userinfo/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
                ),
                requests.post(
                    node + "/o/introspect/",
                    data={"token": access_token},
                    auth=(client["client_id"], client["client_secret"]),
                    timeout=30,
                ),
            ]
            for response in failed:
                assert_json_unavailable(response)
            page = person.post(
                node + "/accounts/login/",
                data={"csrfmiddlewaretoken": csrf, "username": "alice", "password": "not relevant"},
                headers={"Referer": node + "/accounts/login/"},
                timeout=30,
            )
            authorize = requests.get(
                node + "/o/authorize/",
                params={"client_id": client["client_id"], "response_type": "code"},
                timeout=30,
            )
            for response in (page, authorize):
                assert response.status_code == 503
                assert response.headers["Content-Type"].startswith("text/html")
                assert int(response.headers["Retry-After"]) > 0
                assert "briefly unavailable" in response.text

            # One line per failed request, and no traceback.
            logged = log.read_text()[len(before) :]
            assert "Traceback" not in logged
            assert len(re.findall(r"porchlight\.outage .*503 ", logged)) == 5, logged[-3000:]
            assert client["client_secret"] not in logged and access_token not in logged

            cluster.start()
            deadline = time.monotonic() + 30
            while (recovered := client_credentials(node, client)).status_code != 200:
                assert time.monotonic() < deadline, recovered.text
                time.sleep(0.5)


def test_token_without_signing_key_answers_503_temporarily_unavailable(make_client):
    # No key was ever created for RS256 (JWT access tokens are signed with it).
    backend = make_client(grant_types=["client_credentials"], redirect_uris=[])
    http = BrowserClient(raise_request_exception=False)

    response = http.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(backend.client_id, backend.client_secret),
    )

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_sign_in_while_redis_is_down_answers_503_not_500(settings, caplog):
    # Throttle counters in a Redis that does not answer: the login form cannot count the attempt.
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHE_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CACHE_THROTTLE": True}
    http = BrowserClient(raise_request_exception=False)

    response = http.post("/accounts/login/", {"username": "alice", "password": "whatever-it-is"})

    assert response.status_code == 503
    assert response["Retry-After"]
    assert "briefly unavailable" in response.content.decode()
    assert "whatever-it-is" not in caplog.text
    assert "Traceback" not in caplog.text
