"""Request ids and log lines under the server: one JSON line per request, probes left out, no secrets."""

import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.cluster import gunicorn_node, manage, migrated_sqlite, node_environment

METRICS_TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def json_server(tmp_path_factory):
    """gunicorn with two workers, JSON logs and a metrics token, on a throwaway SQLite database."""
    tmp_path = tmp_path_factory.mktemp("json-server")
    env = node_environment(
        tmp_path,
        None,
        ACCESS_LOG="-",
        LOG_FORMAT="json",
        METRICS_TOKEN=METRICS_TOKEN,
        METRICS_ALLOWED_NETWORKS="192.0.2.0/24",
    )
    migrated_sqlite(tmp_path)
    manage(env, "rotatekeys")
    output = tmp_path / "server.log"
    with gunicorn_node(env, output, workers=2) as base:
        yield base, output, tmp_path


def access_lines(output: Path) -> list[dict]:
    lines = []
    for line in output.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") in ("gunicorn.access", "granian.access"):
            lines.append(entry)
    return lines


def test_request_log_is_one_json_line_per_request_with_its_id(json_server):
    base, output, _ = json_server
    offered = uuid.uuid4().hex
    response = requests.get(
        base + "/.well-known/openid-configuration?secret=hunter2", headers={"X-Request-ID": offered}
    )
    assert response.headers["X-Request-ID"] == offered
    made_up = requests.get(base + "/o/jwks/", headers={"X-Request-ID": "bad id <script>"})
    generated = made_up.headers["X-Request-ID"]
    assert generated != "bad id <script>" and len(generated) == 32
    for _ in range(3):
        assert requests.get(base + "/readyz", timeout=5).status_code == 200
    # The line after the probes shows they have all been through the logger.
    marker = requests.get(base + "/o/jwks/").headers["X-Request-ID"]
    deadline = time.monotonic() + 10
    while marker not in output.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = access_lines(output)
    by_id = {entry["request_id"]: entry for entry in lines}
    assert by_id[offered]["path"] == "/.well-known/openid-configuration"
    assert by_id[offered]["status"] == 200
    assert by_id[generated]["path"] == "/o/jwks/"
    # Probes are left out of the access log; query strings (codes, tokens) never enter it.
    assert not [entry for entry in lines if entry["path"] in ("/healthz", "/readyz")]
    assert "hunter2" not in output.read_text()


def jwks_requests(base: str) -> float:
    text = requests.get(
        base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    ).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("porchlight_http_requests_total{") and 'endpoint="oidc_provider:jwks"' in line
    )


def test_metrics_add_up_every_worker_and_need_the_token(json_server):
    base, _, tmp_path = json_server
    assert requests.get(base + "/metrics", timeout=5).status_code == 403
    before = jwks_requests(base)
    for _ in range(20):
        assert requests.get(base + "/o/jwks/", timeout=5).status_code == 200
    # Two workers answered; the scrape, whichever worker takes it, adds up both.
    assert jwks_requests(base) == before + 20
    # One file per process under var/, not in the home directory.
    assert list(tmp_path.glob("prometheus-*/counter_*.db"))
    assert not list(tmp_path.glob("gunicorn.ctl"))
