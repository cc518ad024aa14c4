"""`manage.py serve` under gunicorn and under Granian: what an operator and a client observe.

Each server is started as in production, through `manage.py serve`, with Porchlight's routes plus
a page that prints ``request.META`` and one that fails (tests/serving_urls.py). Requests that must
carry exact header spellings or come from a given loopback address go over raw sockets.
"""

import json
import os
import re
import secrets
import signal
import socket
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.cluster import (
    SERVERS_UNDER_TEST,
    collected_static,
    free_port,
    manage,
    migrated_sqlite,
    node_environment,
    server_node,
)


@dataclass
class Served:
    server: str
    base: str
    port: int
    process: int
    log: Path
    metrics: Path
    canaries: list[str]


def children(pid: int) -> set[int]:
    """Return the processes whose parent is ``pid`` (the server's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def answers(url: str) -> bool:
    """Return whether ``url`` answers 200 now; a refused or dropped connection is a no."""
    try:
        return requests.get(url, timeout=10).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


def wait_for(condition, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there in time"
        time.sleep(0.2)


def raw(port: int, request: bytes, *, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as written from ``source``; return the status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
    }
    return int(status_line.split()[1]), headers, body


def get(port: int, path: str, headers: str = "", *, host: str = "127.0.0.1", source: str = "127.0.0.1"):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
    return raw(port, request.encode("latin-1"), source=source)


@pytest.fixture(scope="module", params=SERVERS_UNDER_TEST)
def served(request, tmp_path_factory):
    """The provider under ``manage.py serve`` with two workers, secrets in its environment, debug on."""
    server = request.param
    tmp_path = tmp_path_factory.mktemp(f"serve-{server}")
    secret_key, encryption_key = secrets.token_urlsafe(40), secrets.token_urlsafe(32)
    migrated_sqlite(tmp_path)
    database = tmp_path / f"db-{secrets.token_hex(8)}.sqlite3"
    (tmp_path / "porchlight.sqlite3").rename(database)
    env = node_environment(
        tmp_path,
        None,
        ACCESS_LOG="-",
        # Debug on: the error page is Django's technical report, which lists all of META.
        DEBUG="true",
        SECRET_KEY=secret_key,
        KEY_ENCRYPTION_KEY=encryption_key,
    )
    # Any other secret the service's environment holds, which Porchlight does not read.
    passphrase = secrets.token_urlsafe(24)
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        BACKUP_PASSPHRASE=passphrase,
        DJANGO_SETTINGS_MODULE="tests.serving_settings",
    )
    manage(env, "rotatekeys")
    port = free_port()
    metrics = tmp_path / f"prometheus-127-0-0-1-{port}"
    # A file an earlier run left: serve empties the folder before the server starts.
    metrics.mkdir()
    (metrics / "counter_1.db").write_bytes(b"stale")
    log = tmp_path / "server.log"
    process: list = []
    with server_node(env, log, workers=2, port=port, server=server, process=process) as base:
        canaries = [secret_key, encryption_key, env["DATABASE_URL"], passphrase]
        yield Served(server, base, port, process[0].pid, log, metrics, canaries)


def test_serve_starts_the_chosen_server_and_empties_the_metrics_folder(served):
    assert requests.get(served.base + "/.well-known/openid-configuration", timeout=10).status_code == 200
    assert not (served.metrics / "counter_1.db").exists()
    # The server is the process serve became (execv), with its workers under it.
    assert served.server in Path(f"/proc/{served.process}/cmdline").read_text()
    wait_for(lambda: len(children(served.process)) == 2)


def test_serve_shows_no_process_environment_to_the_application(served):
    status, _, body = get(served.port, "/serving-test/meta", "X-Probe: seen\r\n")
    assert status == 200
    meta = json.loads(body)["meta"]
    assert meta["HTTP_X_PROBE"] == "seen" and meta["REQUEST_METHOD"] == "GET"
    environment = [key for key in meta if key.startswith("PORCHLIGHT_") or key in ("DATABASE_URL", "PATH")]
    assert not environment, environment
    # Django's error report (the technical 500 page, as mailed to admins) lists META too.
    failed = requests.get(served.base + "/serving-test/error", timeout=10)
    assert failed.status_code == 500 and "deliberate failure" in failed.text
    for canary in served.canaries:
        assert canary not in body.decode()
        assert canary not in failed.text
    assert not [canary for canary in served.canaries if canary in served.log.read_text()]


def test_serve_access_log_has_the_request_id_and_no_query(served):
    offered = uuid.uuid4().hex
    response = requests.get(
        served.base + "/.well-known/openid-configuration?code=hunter2",
        headers={"X-Request-ID": offered},
        timeout=10,
    )
    assert response.headers["X-Request-ID"] == offered
    for _ in range(3):
        assert requests.get(served.base + "/readyz", timeout=10).status_code == 200
    marker = requests.get(served.base + "/o/jwks/", timeout=10).headers["X-Request-ID"]
    wait_for(lambda: marker in served.log.read_text(), timeout=10)
    lines = served.log.read_text().splitlines()
    (line,) = [line for line in lines if offered in line]
    assert line.startswith('127.0.0.1 "GET /.well-known/openid-configuration" 200 ')
    assert "hunter2" not in served.log.read_text()
    assert not [line for line in lines if '"GET /readyz"' in line]


def test_serve_replaces_a_killed_worker(served):
    workers = children(served.process)
    victim = min(workers)
    # A live gauge the dead worker leaves: folded away (gunicorn's child_exit, Granian's next worker).
    gauge = served.metrics / f"gauge_livesum_{victim}.db"
    gauge.write_bytes(b"")
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(children(served.process) - {victim}) == 2)
    # Until the new worker has started, a connection may be refused (seen under Granian on a
    # loaded machine): the server is then answering again, and every request after that is served.
    wait_for(lambda: answers(served.base + "/healthz"))
    for _ in range(10):
        assert requests.get(served.base + "/.well-known/openid-configuration", timeout=10).status_code == 200
    wait_for(lambda: not gauge.exists(), timeout=20)


def test_serve_reloads_on_sighup_and_keeps_answering(served):
    # Granian stops a worker within seconds of its replacement only at a crash loop; let the
    # respawn of the test before age.
    time.sleep(6)
    before = children(served.process)
    os.kill(served.process, signal.SIGHUP)
    answers = []
    deadline = time.monotonic() + 90
    while not (children(served.process) & before == set() and len(children(served.process)) == 2):
        assert time.monotonic() < deadline, "the workers were not replaced"
        answers.append(requests.get(served.base + "/healthz", timeout=10).status_code)
        time.sleep(0.2)
    answers.append(requests.get(served.base + "/.well-known/openid-configuration", timeout=10).status_code)
    assert set(answers) == {200}, answers


# --- behind a proxy: forwarded headers count from a trusted proxy only --------------------------

ISSUER_HOST = "id.example.test"
# The proxy's address; 127.0.0.1, where other clients come from, is not trusted.
PROXY = "127.0.0.2"
DISCOVERY = "/.well-known/openid-configuration"
# The client the proxy names, and the address a client would rather be recorded under.
CLIENT = "198.51.100.7"
FORGED = "203.0.113.66"


@dataclass
class Proxied:
    server: str
    headers: str  # PORCHLIGHT_PROXY_HEADERS: the server's default unless set
    port: int
    env: dict


# Each server with the proxy headers it uses by default (gunicorn: X-Forwarded-*, Granian: RFC 7239
# Forwarded), and gunicorn told to read Forwarded.
PROXIED = [
    (server, headers)
    for server, headers in [("gunicorn", "x-forwarded"), ("granian", "forwarded"), ("gunicorn", "forwarded")]
    if server in SERVERS_UNDER_TEST
]


@pytest.fixture(scope="module", params=PROXIED, ids=["-".join(pair) for pair in PROXIED])
def proxied(request, tmp_path_factory):
    """The provider on an https issuer behind a proxy at 127.0.0.2, debug off."""
    server, headers = request.param
    tmp_path = tmp_path_factory.mktemp(f"proxied-{server}-{headers}")
    migrated_sqlite(tmp_path)
    settings = (
        {"PROXY_HEADERS": headers}
        if headers != ("forwarded" if server == "granian" else "x-forwarded")
        else {}
    )
    env = node_environment(
        tmp_path,
        None,
        ISSUER=f"https://{ISSUER_HOST}",
        BEHIND_PROXY="true",
        TRUSTED_PROXIES=f"{PROXY}/32",
        SECRET_KEY=secrets.token_urlsafe(40),
        KEY_ENCRYPTION_KEY=secrets.token_urlsafe(32),
        # /metrics answers clients from this network without a token: access judged by address.
        METRICS_ALLOWED_NETWORKS="203.0.113.0/24",
        **settings,
    )
    env.update(DJANGO_SETTINGS_MODULE="tests.serving_settings")
    # The sign-in page links its static files through the manifest, as in production.
    collected_static(tmp_path)
    manage(env, "rotatekeys")
    port = free_port()
    with ExitStack() as running:
        running.enter_context(server_node(env, tmp_path / "server.log", port=port, server=server))
        yield Proxied(server, headers, port, env)


def proxy_says(
    proxied: Proxied, *, client: str = CLIENT, proto: str = "https", host: str = ISSUER_HOST
) -> str:
    """Return the header lines the proxy adds, in the spelling the provider is set up to read."""
    if proxied.headers == "forwarded":
        return f'Forwarded: for="{client}";proto={proto};host="{host}"\r\n'
    return f"X-Forwarded-For: {client}\r\nX-Forwarded-Proto: {proto}\r\nX-Forwarded-Host: {host}\r\n"


def test_serve_takes_the_scheme_and_host_from_a_trusted_proxy(proxied):
    port = proxied.port
    status, _, body = get(
        port, "/serving-test/meta", proxy_says(proxied), host="porchlight.internal", source=PROXY
    )
    seen = json.loads(body)
    assert status == 200 and seen["secure"] is True and seen["host"] == ISSUER_HOST
    # Discovery answers (no redirect to https), with HSTS (RFC 6797), as the client asked over https.
    status, headers_out, body = get(port, DISCOVERY, proxy_says(proxied), host=ISSUER_HOST, source=PROXY)
    assert status == 200 and json.loads(body)["issuer"] == f"https://{ISSUER_HOST}"
    assert "strict-transport-security" in headers_out
    # Plain http through the proxy is sent to https.
    status, headers_out, _ = get(
        port, DISCOVERY, proxy_says(proxied, proto="http"), host=ISSUER_HOST, source=PROXY
    )
    assert status == 301 and headers_out["location"] == f"https://{ISSUER_HOST}{DISCOVERY}"


def test_serve_ignores_forwarded_scheme_and_host_from_anyone_else(proxied):
    headers = (
        "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
        'Forwarded: for=203.0.113.66;proto=https;host="evil.example"\r\n'
    )
    status, headers_out, _ = get(proxied.port, DISCOVERY, headers, host=ISSUER_HOST)
    # Still plain http: sent to https on the host the request named, not the forwarded one.
    assert status == 301 and "strict-transport-security" not in headers_out
    assert headers_out["location"] == f"https://{ISSUER_HOST}{DISCOVERY}"


def forged_by_the_client(proxied: Proxied, **values: str) -> str:
    """Return header lines a client adds that a proxy forwarding underscore names passes on.

    Sent after the proxy's own lines: Granian keeps the later of two spellings of one variable.
    With Forwarded, the hyphenated X-Forwarded-* a proxy leaves alone are the client's too.
    """
    lines = [f"X_Forwarded_{name.title()}: {value}\r\n" for name, value in values.items()]
    if proxied.headers == "forwarded":
        lines += [f"X-Forwarded-{name.title()}: {value}\r\n" for name, value in values.items()]
    return "".join(lines)


def test_serve_keeps_the_scheme_a_client_forges_behind_the_proxy_out(proxied):
    headers = proxy_says(proxied, proto="http") + forged_by_the_client(
        proxied, proto="https", host="evil.example"
    )
    status, headers_out, _ = get(proxied.port, DISCOVERY, headers, host=ISSUER_HOST, source=PROXY)
    assert status == 301 and "strict-transport-security" not in headers_out
    assert headers_out["location"] == f"https://{ISSUER_HOST}{DISCOVERY}"


def failed_sign_in(proxied: Proxied, headers: str, *, source: str) -> int:
    """Sign in with a wrong password, as a browser does (the form, then its post); return the status."""
    port = proxied.port
    status, out, body = get(port, "/accounts/login/", headers, host=ISSUER_HOST, source=source)
    assert status == 200, (status, out)
    cookie = out["set-cookie"].split(";", 1)[0]
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert found, body
    token = found[1].decode()
    form = urlencode({"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong"})
    request = (
        f"POST /accounts/login/ HTTP/1.1\r\nHost: {ISSUER_HOST}\r\n{headers}"
        f"Origin: https://{ISSUER_HOST}\r\nCookie: {cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\nConnection: close\r\n\r\n{form}"
    )
    return raw(port, request.encode("latin-1"), source=source)[0]


def recorded_addresses(proxied: Proxied) -> list[str]:
    """Return the addresses of the failed sign-ins in the audit log, oldest first, as staff see them."""
    events = "AuditEvent.objects.filter(action='login.failure').order_by('pk')"
    code = f"from audit.models import AuditEvent; print(','.join({events}.values_list('ip', flat=True)))"
    return [ip for ip in manage(proxied.env, "shell", "-v0", "-c", code).strip().split(",") if ip]


def test_serve_records_the_client_the_proxy_names_whatever_the_client_forges(proxied):
    recorded = len(recorded_addresses(proxied))
    forged = forged_by_the_client(proxied, **{"for": FORGED, "proto": "https"})
    assert failed_sign_in(proxied, proxy_says(proxied) + forged, source=PROXY) == 200
    assert failed_sign_in(proxied, proxy_says(proxied, client="2001:db8:1:2::9"), source=PROXY) == 200
    assert recorded_addresses(proxied)[recorded:] == [CLIENT, "2001:db8:1:2::/64"]


def metrics_status(proxied: Proxied, headers: str, *, source: str) -> int:
    return get(proxied.port, "/metrics", headers, host=ISSUER_HOST, source=source)[0]


def test_serve_judges_metrics_access_on_the_client_a_trusted_proxy_names(proxied):
    # /metrics lets in 203.0.113.0/24 by address: the proxy's word counts, and only the proxy's.
    assert metrics_status(proxied, proxy_says(proxied, client=FORGED), source=PROXY) == 200
    assert (
        metrics_status(
            proxied, proxy_says(proxied) + forged_by_the_client(proxied, **{"for": FORGED}), source=PROXY
        )
        == 403
    )
    untrusted = f"X-Forwarded-For: {FORGED}\r\nForwarded: for={FORGED}\r\n"
    assert metrics_status(proxied, untrusted, source="127.0.0.1") == 403
    assert metrics_status(proxied, f"X_Forwarded_For: {FORGED}\r\n", source="127.0.0.1") == 403


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        'for="203.0.113.66',
        "for=[2001:db8::1];proto=https",
        "for=203.0.113.66;for=203.0.113.67;proto=https",
        'for=203.0.113.66;proto="https;host=a"b',
        ";;;,,,=;",
        "for=" + "x" * 4000,
    ],
)
def test_serve_ignores_a_malformed_forwarded_header(proxied, value):
    headers = f"Forwarded: {value}\r\n"
    # Never a server error; the scheme stays http and nobody is let in by the address it names.
    status, headers_out, _ = get(proxied.port, DISCOVERY, headers, host=ISSUER_HOST, source=PROXY)
    assert status == 301 and headers_out["location"] == f"https://{ISSUER_HOST}{DISCOVERY}"
    assert metrics_status(proxied, headers, source=PROXY) == 403
