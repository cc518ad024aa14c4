"""Load the provider's hot endpoints on SQLite and PostgreSQL and print what it sustains.

``make bench`` runs this. First it measures a floor: the same gunicorn configuration serving a
constant JSON answer from a bare WSGI callable (bench/floor.py). Then, for each database, it
prepares a throwaway database (bench/seed.py), starts gunicorn as production does
(porchlight/gunicorn.conf.py) on 127.0.0.1, and drives discovery, JWKS, token, introspection
and UserInfo with wrk at 16 and 64 connections. For every row it prints requests/s, p50/p99
and the CPU milliseconds per request spent by gunicorn (master and workers) and by PostgreSQL
(postmaster and backends), read from /proc (bench/cpu.py). Then it prints the ID token signing
cost per algorithm on one core (bench/signing.py). On PostgreSQL, after each server's rows of the
provider, the same server serves PostgreSQL's floors (bench/floor_pg.py: one SELECT; a SELECT
and the access token's INSERT; two SELECTs; one joined SELECT, with psycopg alone) on the same
cluster at the highest load, so each run shows what the provider's statements cost PostgreSQL
at the least. It prints figures and judges none; it fails only when something breaks.
``PROFILE=token`` (or another endpoint) prints where the time of one endpoint goes instead
(bench/hotspots.py).

Reduced runs: BENCH_DATABASES=SQLite,PostgreSQL, BENCH_ENDPOINTS=discovery,token,pg_insert,
BENCH_CONNECTIONS=16,64, BENCH_SECONDS=8. PORCHLIGHT_WORKER_CLASS / PORCHLIGHT_WORKERS /
PORCHLIGHT_THREADS pass through to gunicorn and Granian as in production. BENCH_FLOOR_SPIN_MS=0.6
runs PostgreSQL's floors at about the provider's pace (bench/floor_pg.py).

``GROWTH=1`` seeds each database with 100,000 users, 1,000,000 expired access tokens and
200,000 revoked refresh tokens first (bulk inserts, bench/seed.py), and at the end runs
``manage.py housekeeping`` (batched deletes) while the token endpoint is under load, printing
a row per measurement until it has finished and how long it took.

Every server it starts runs in its own session and is stopped by PID, and every temporary
directory is removed, on success, error, Ctrl-C or SIGTERM alike.
"""

import base64
import hashlib
import io
import json
import os
import pwd
import random
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlencode
from urllib.request import HTTPRedirectHandler, ProxyHandler, Request, build_opener

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

import floor_pg  # noqa: E402 - bench/floor_pg.py, beside this script: its tables
from cpu import tree_cpu_by_process, tree_cpu_seconds  # noqa: E402 - bench/cpu.py, beside this script

from tests import pg_cluster  # noqa: E402 - its install check and postgres user

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
GRANIAN = str(Path(sys.executable).parent / "granian")
NODE_DIR = BENCH_DIR / "node"
CORES = os.cpu_count() or 1
DATABASES = tuple(os.environ.get("BENCH_DATABASES", "SQLite,PostgreSQL").split(","))
ENDPOINTS = tuple(filter(None, os.environ.get("BENCH_ENDPOINTS", "").split(",")))
CONNECTIONS = tuple(int(value) for value in os.environ.get("BENCH_CONNECTIONS", "1,64").split(","))
# The servers Porchlight runs under, each measured in turn on the same database.
SERVERS = tuple(filter(None, os.environ.get("BENCH_SERVERS", "granian,gunicorn").split(",")))
# Worker processes of every server measured, node-oidc-provider's cluster included.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(CORES)))
# Threads per worker (Granian's blocking threads) as production has them: PORCHLIGHT_THREADS, 1
# unless set (docs/performance.md, "Threads under Granian").
THREADS = os.environ.get("PORCHLIGHT_THREADS", "1")
# node-oidc-provider 9 (bench/node/), measured in the same run; BENCH_NODE=0 leaves it out.
NODE = os.environ.get("BENCH_NODE", "1") != "0"
NODE_NAME = "node-oidc-provider"
# Single-use codes and refresh tokens seeded per server measured (bench/seed.py).
POOL = int(os.environ.get("BENCH_POOL", "8000"))
WARM_UP_SECONDS = 2
MEASURE_SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
WRK_THREADS = 2
# Long enough that a slow response counts in the latency figures instead of as an error.
WRK_TIMEOUT = "10s"
START_TIMEOUT = 60
RESULT_MARKER = "BENCH_RESULT "
GROWTH = os.environ.get("GROWTH") == "1"
# BENCH_STATEMENTS=1: PostgreSQL loads pg_stat_statements, and each PostgreSQL row is followed by
# the statements it ran per request, with PostgreSQL's planning and execution time for each.
STATEMENTS = os.environ.get("BENCH_STATEMENTS") == "1"
SEED_TIMEOUT = 3600 if GROWTH else 300
PRUNE_TIMEOUT = 1800


class BenchError(Exception):
    """Something the benchmark needs failed; the message says what."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # What a correct answer looks like, checked once before the load.
    answers: Callable[[dict], bool] = lambda body: True
    status: int = 200
    # Bodies sent once each (codes, refresh tokens: single use), consumed from the front.
    pool: list[str] | None = None
    # Loads other than BENCH_CONNECTIONS: a password hash takes a few hundred milliseconds, so
    # 64 waiting sign-ins would outlast wrk's timeout.
    connections: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Row:
    database: str
    endpoint: str
    # gunicorn or granian (Porchlight), or node-oidc-provider.
    server: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    # CPU milliseconds per request: gunicorn's processes, and the database server's (PostgreSQL).
    server_cpu_ms: float
    database_cpu_ms: float | None
    expected_status: int = 200
    requests: int = 0
    # BENCH_STATEMENTS=1: what PostgreSQL ran during the row (STATEMENTS_SQL's rows).
    statements: tuple[tuple, ...] = ()
    # BENCH_STATEMENTS=1: PostgreSQL's CPU ms per request by kind of process (postgres_processes).
    database_processes: tuple[tuple[str, float], ...] = ()

    @property
    def failed(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != self.expected_status)


# --- processes ----------------------------------------------------------------------------


def run(argv: list[str], *, what: str, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run a helper command to completion; raise BenchError with its output if it fails."""
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            start_new_session=True,
            **kwargs,
        )
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or "").strip()
        raise BenchError(f"{what} failed (exit {exc.returncode}):\n{tail(output)}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} did not finish within {timeout:.0f} s") from exc


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


def ensure_wrk() -> None:
    """Install Debian's wrk when it is missing (we are root on the bench machines)."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise BenchError("wrk is not installed; install Debian's wrk (apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], what="apt-get update", timeout=300, env=env)
    run(["apt-get", "install", "-y", "-qq", "wrk"], what="apt-get install wrk", timeout=300, env=env)


def stop(process: subprocess.Popen, *, grace: float) -> None:
    """Stop a server we started: SIGTERM to its PID, then SIGKILL to its process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def free_port() -> int:
    """Return a free port below 32768, picked at random so that parallel runs rarely collide."""
    # tests/pg_cluster.py, which other sessions may be running, scans upward from 25432.
    for port in random.sample(range(20000, 25400), 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free port between 20000 and 25400 on 127.0.0.1")


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as path:
        yield Path(path)


@dataclass(frozen=True)
class Database:
    name: str
    url: str | None
    # The postmaster, whose process tree is the database's CPU; SQLite runs inside the workers.
    server_pid: int | None = None


@contextmanager
def postgres_cluster() -> Iterator[Database]:
    """Run a throwaway PostgreSQL 15 cluster (as tests/pg_cluster.py does); yield it."""
    pg_cluster.ensure_installed()
    with temp_dir("porchlight-bench-pg-") as root:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
        data = root / "data"
        pg_ctl = str(pg_cluster.PG_BIN / "pg_ctl")
        initdb = [str(pg_cluster.PG_BIN / "initdb"), "-D", str(data), "-U", "porchlight", "--auth=trust"]
        run(pg_cluster.as_owner([*initdb, "--encoding=UTF8", "--no-sync"]), what="initdb", timeout=120)
        port = free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        if STATEMENTS:
            options += (
                " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
            )
        try:
            log = str(root / "server.log")
            start = [pg_ctl, "-D", str(data), "-l", log, "-o", options, "-w", "start"]
            run(pg_cluster.as_owner(start), what="PostgreSQL start", timeout=120)
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
            url = f"postgres://porchlight@127.0.0.1:{port}/postgres"
            if STATEMENTS:
                statements_query(url, "CREATE EXTENSION pg_stat_statements")
            yield Database("PostgreSQL", url, postmaster)
        finally:
            stop_postgres(data)


def statements_query(url: str, sql: str) -> list[tuple]:
    """Run one statement of the bench's own on the throwaway cluster; return its rows."""
    import psycopg  # the provider's own driver, in the same virtualenv

    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchall() if cursor.description else []


# Per statement the provider ran (the bench's own left out): calls, planning and execution ms.
STATEMENTS_SQL = """
SELECT calls, total_plan_time, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g')
FROM pg_stat_statements
WHERE query NOT LIKE '%pg_stat_statements%'
ORDER BY total_plan_time + total_exec_time DESC
"""


def print_statements(statements: list[tuple], requests: int) -> None:
    """Print the statements of one row per request: how many, and PostgreSQL's time in each."""
    calls = sum(row[0] for row in statements)
    planned = sum(row[1] for row in statements)
    executed = sum(row[2] for row in statements)
    print(
        f"    {calls / requests:.2f} statements/request; PostgreSQL ms/request planning "
        f"{planned / requests:.3f}, executing {executed / requests:.3f}"
    )
    for count, plan, execute, query in statements[:8]:
        if count >= requests / 100:
            per = f"{count / requests:5.2f} x plan {plan / count:.3f} exec {execute / count:.3f}"
            print(f"    {per}  {query[:100]}")


def print_processes(processes: Sequence[tuple[str, float]]) -> None:
    """Print where PostgreSQL's CPU went during one row, per kind of process, ms per request."""
    print("    PostgreSQL CPU ms/request by process: " + ", ".join(f"{k} {v:.3f}" for k, v in processes))


def postgres_process_kind(pid: int, title: str, postmaster: int) -> str:
    """Name the kind of PostgreSQL process ``title`` (its ps title) is, for the CPU breakdown."""
    if pid == postmaster:
        # Its own CPU and that of the children it reaped during the row: autovacuum workers,
        # above all, which come and go (cpu.py counts an exited child through its parent).
        return "postmaster+exited"
    kind = title.removeprefix("postgres: ").strip()
    for known in ("autovacuum", "walwriter", "checkpointer", "background writer", "logical replication"):
        if kind.startswith(known):
            return known
    return "backends"  # a client's connection: "user database host(port) state"


def postgres_processes(
    before: dict, after: dict, postmaster: int, requests: int
) -> tuple[tuple[str, float], ...]:
    """Return PostgreSQL's CPU ms per request by kind of process, from two tree_cpu_by_process()."""
    kinds: dict[str, float] = {}
    for pid, (title, seconds) in after.items():
        kind = postgres_process_kind(pid, title, postmaster)
        spent = seconds - before.get(pid, ("", 0.0))[1]
        kinds[kind] = kinds.get(kind, 0.0) + spent * 1000 / requests
    return tuple(sorted(kinds.items(), key=lambda item: -item[1]))


def stop_postgres(data: Path) -> None:
    """Stop the cluster's postmaster (immediate shutdown), by the PID in its postmaster.pid."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGQUIT)  # PostgreSQL's "immediate" shutdown
        # The postmaster removes its PID file as it exits (it is not our child to wait for).
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_file.exists():
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def server_argv(server: str, port: int, app: str | None = None) -> list[str]:
    """Return the command that serves the provider (or ``app``) under ``server`` on ``port``.

    The one place that says how each server is started. The provider runs as in production,
    through ``manage.py serve`` (the server from PORCHLIGHT_SERVER, its settings from the
    environment: ``server_env``); a floor ``app`` runs under the same server's own CLI with the
    same workers.
    """
    if server not in ("gunicorn", "granian"):
        raise BenchError(f"unknown server {server!r} in BENCH_SERVERS (gunicorn, granian)")
    if app is None:
        return [sys.executable, "manage.py", "serve"]
    if server == "gunicorn":
        return [GUNICORN, "-c", "porchlight/gunicorn.conf.py", app]
    return [
        GRANIAN,
        "--interface",
        "wsgi",
        "--workers",
        str(WORKERS),
        "--blocking-threads",
        THREADS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        app,
    ]


def server_env(server: str, env: dict[str, str]) -> dict[str, str]:
    """Return ``env`` for ``manage.py serve`` under ``server``, with the threads the floors run."""
    return {**env, "PORCHLIGHT_SERVER": server, "PORCHLIGHT_THREADS": THREADS}


@contextmanager
def provider(
    env: dict[str, str], log_path: Path, server: str = "gunicorn", app: str | None = None
) -> Iterator[subprocess.Popen]:
    """Run the provider (or ``app``) under ``server``, as server_argv() starts it."""
    port = int(env["PORCHLIGHT_BIND"].rpartition(":")[2])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            server_argv(server, port, app),
            cwd=ROOT,
            env=server_env(server, env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process, grace=15)


def provider_env(var_dir: Path, port: int, database_url: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env.update(
        PORCHLIGHT_VAR_DIR=str(var_dir),
        PORCHLIGHT_BIND=f"127.0.0.1:{port}",
        PORCHLIGHT_ISSUER=f"http://127.0.0.1:{port}",
        # The pooled codes (seed.py) wait up to a few minutes for their turn.
        PORCHLIGHT_AUTHORIZATION_CODE_LIFETIME="600",
    )
    # Every request is counted against its client's budget, as in production, but the budget is
    # never reached: a 429 costs far less than the answer it replaces and would flatter the figures.
    env.setdefault("PORCHLIGHT_CLIENT_RATE_LIMIT", "10000000/60")
    # gunicorn's workers; Granian and node-oidc-provider are given the same number.
    env.setdefault("PORCHLIGHT_WORKERS", str(WORKERS))
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


# --- HTTP ---------------------------------------------------------------------------------


class NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a sign-in's 302 is its answer


# Straight to 127.0.0.1, whatever proxy the environment names.
http = build_opener(ProxyHandler({}), NoRedirect())


def fetch(base_url: str, endpoint: Endpoint) -> tuple[int, bytes]:
    request = Request(
        base_url + endpoint.path,
        data=endpoint.body.encode() if endpoint.body else None,
        headers=endpoint.headers,
        method=endpoint.method,
    )
    try:
        with http.open(request, timeout=10) as response:
            return response.status, response.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def wait_until_answering(
    process: subprocess.Popen, base_url: str, log_path: Path, path: str = "/.well-known/openid-configuration"
) -> None:
    discovery = Endpoint("ready", path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = tail(log_path.read_text(errors="replace"))
            raise BenchError(f"the server exited with {process.returncode} before answering:\n{log}")
        try:
            status, body = fetch(base_url, discovery)
        except (URLError, OSError):
            time.sleep(0.2)
            continue
        if status == 200:
            return
        raise BenchError(f"the provider started but discovery answered {status}: {body[:300]!r}")
    raise BenchError(f"the server did not answer within {START_TIMEOUT} s:\n{tail(log_path.read_text())}")


def check_answers(base_url: str, endpoints: list[Endpoint]) -> None:
    """Make one request of each kind and fail clearly unless it gets a correct answer."""
    for endpoint in endpoints:
        if endpoint.pool is not None:
            endpoint = Endpoint(**{**endpoint.__dict__, "body": endpoint.pool.pop(0)})
        status, body = fetch(base_url, endpoint)
        if endpoint.status != 200:  # a redirect (sign-in): no JSON
            if status == endpoint.status:
                continue
            raise BenchError(f"{endpoint.name}: {endpoint.method} {endpoint.path} answered {status}")
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if status != 200 or not isinstance(document, dict) or not endpoint.answers(document):
            raise BenchError(
                f"{endpoint.name}: {endpoint.method} {endpoint.path} answered {status}: {body[:300]!r}"
            )


# --- load ---------------------------------------------------------------------------------


def jws_algorithm(token: str) -> str | None:
    """Return the alg of a compact JWS's header, or None if ``token`` is not one."""
    try:
        header = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("alg")
    except (ValueError, AttributeError):
        return None


def endpoints_for(credentials: dict) -> list[Endpoint]:
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def client_credentials(name: str, authorization: str, token_ok: Callable[[str], bool]) -> Endpoint:
        return Endpoint(
            name,
            "/o/token/",
            method="POST",
            body=urlencode({"grant_type": "client_credentials"}),
            headers={"Authorization": authorization, **form},
            answers=lambda body: token_ok(body.get("access_token", "")),
        )

    rp = {"Authorization": credentials["relying_party_auth"], **form}
    # A CSRF secret used as cookie and form token alike, as a browser's would be after the form.
    csrf = "b" * 32
    return [
        Endpoint("discovery", "/.well-known/openid-configuration", answers=lambda body: "issuer" in body),
        Endpoint("jwks", "/o/jwks/", answers=lambda body: bool(body.get("keys"))),
        # client_credentials, with an RS256 JWT, an opaque and an ES256 JWT access token.
        client_credentials(
            "token", credentials["machine_auth"], lambda token: jws_algorithm(token) == "RS256"
        ),
        Endpoint(
            "introspection",
            "/o/introspect/",
            method="POST",
            body=urlencode({"token": credentials["access_token"]}),
            # RFC 7662 §2.1: the token's own client asks.
            headers={"Authorization": credentials["relying_party_auth"], **form},
            answers=lambda body: body.get("active") is True,
        ),
        Endpoint(
            "userinfo",
            "/o/userinfo/",
            headers={"Authorization": f"Bearer {credentials['access_token']}"},
            answers=lambda body: "sub" in body and "email" in body,
        ),
        client_credentials("token_opaque", credentials["opaque_auth"], lambda token: token.count(".") != 2),
        client_credentials(
            "token_es256", credentials["es256_auth"], lambda token: jws_algorithm(token) == "ES256"
        ),
        Endpoint(
            "token_code",
            "/o/token/",
            method="POST",
            headers=rp,
            pool=[
                urlencode(
                    {
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": credentials["redirect_uri"],
                        "code_verifier": credentials["code_verifier"],
                    }
                )
                for code in credentials["codes"]
            ],
            answers=lambda body: "id_token" in body and "refresh_token" in body,
        ),
        Endpoint(
            "token_refresh",
            "/o/token/",
            method="POST",
            headers=rp,
            pool=[
                urlencode({"grant_type": "refresh_token", "refresh_token": value})
                for value in credentials["refresh_tokens"]
            ],
            answers=lambda body: "id_token" in body and "refresh_token" in body,
        ),
        Endpoint(
            "signin",
            "/accounts/login/",
            method="POST",
            body=urlencode(
                {
                    "username": credentials["username"],
                    "password": credentials["password"],
                    "csrfmiddlewaretoken": csrf,
                }
            ),
            headers={"Cookie": f"csrftoken={csrf}", **form},
            status=302,
            connections=(4,),
        ),
    ]


def wrk(
    base_url: str, endpoint: Endpoint, connections: int, seconds: int, bodies: Sequence[str] = ()
) -> dict:
    """Drive ``endpoint`` with wrk (each of ``bodies`` sent once, if given); return report.lua's result."""
    threads = min(WRK_THREADS, connections)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    argv += ["--timeout", WRK_TIMEOUT, "-s", str(BENCH_DIR / "report.lua")]
    for name, value in endpoint.headers.items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", prefix="porchlight-bench-pool-", suffix=".txt") as pool:
        pool.write("\n".join(bodies))
        pool.flush()
        argv += [base_url + endpoint.path, "--", endpoint.method, endpoint.body]
        argv += [pool.name, str(threads)] if bodies else []
        done = run(argv, what=f"wrk on {endpoint.name}", timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line.removeprefix(RESULT_MARKER))
    raise BenchError(f"wrk on {endpoint.name} printed no result:\n{tail(done.stdout + done.stderr)}")


def pool_share(endpoint: Endpoint, parts: int) -> list[str]:
    """Take the next 1/``parts`` of ``endpoint``'s pool (nothing if it has none)."""
    if endpoint.pool is None:
        return []
    share = endpoint.pool[: len(endpoint.pool) // parts]
    del endpoint.pool[: len(share)]
    return share


def measure(
    database: Database,
    server: subprocess.Popen,
    base_url: str,
    endpoint: Endpoint,
    connections: int,
    runs_left: int = 1,
    server_name: str = "gunicorn",
) -> Row:
    # Of the pool left for this and the remaining rows of the endpoint: a quarter of this row's
    # share for the warm-up, the rest for the measurement.
    wrk(base_url, endpoint, connections, WARM_UP_SECONDS, pool_share(endpoint, 4 * runs_left))
    if STATEMENTS and database.url:
        statements_query(database.url, "SELECT pg_stat_statements_reset()")
    processes_before = tree_cpu_by_process(database.server_pid) if STATEMENTS and database.server_pid else {}
    server_before = tree_cpu_seconds(server.pid)
    database_before = tree_cpu_seconds(database.server_pid) if database.server_pid else None
    result = wrk(base_url, endpoint, connections, MEASURE_SECONDS, pool_share(endpoint, runs_left))
    server_cpu = tree_cpu_seconds(server.pid) - server_before
    database_cpu = (
        tree_cpu_seconds(database.server_pid) - database_before
        if database.server_pid and database_before is not None
        else None
    )
    processes = (
        postgres_processes(
            processes_before,
            tree_cpu_by_process(database.server_pid),
            database.server_pid,
            max(result["requests"], 1),
        )
        if STATEMENTS and database.server_pid
        else ()
    )
    requests = max(result["requests"], 1)
    statements = statements_query(database.url, STATEMENTS_SQL) if STATEMENTS and database.url else []
    return Row(
        database=database.name,
        endpoint=endpoint.name,
        server=server_name,
        connections=connections,
        requests_per_second=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        statuses={int(status): count for status, count in result["statuses"].items()},
        socket_errors={kind: count for kind, count in result["socket_errors"].items() if count},
        server_cpu_ms=server_cpu * 1000 / requests,
        database_cpu_ms=None if database_cpu is None else database_cpu * 1000 / requests,
        expected_status=endpoint.status,
        requests=requests,
        statements=tuple(statements),
        database_processes=processes,
    )


# The floors: a bare WSGI callable (bench/floor.py), and the least Django (bench/floor_django.py).
FLOORS = {"floor": "bench.floor:application", "django_floor": "bench.floor_django:application"}


def bench_floor(server: str, name: str = "floor") -> Iterator[Row]:
    """Serve a constant JSON answer from floor ``name`` under ``server``, set up as for the provider."""
    with ExitStack() as stack:
        root = stack.enter_context(temp_dir("porchlight-bench-floor-"))
        port = free_port()
        log_path = root / "server.log"
        process = stack.enter_context(
            provider(provider_env(root / "var", port, None), log_path, server, FLOORS[name])
        )
        base_url = f"http://127.0.0.1:{port}"
        wait_until_answering(process, base_url, log_path, "/floor")
        for connections in CONNECTIONS:
            endpoint = Endpoint(name, "/floor")
            yield measure(
                Database("none", None), process, base_url, endpoint, connections, server_name=server
            )


# PostgreSQL's floors (bench/floor_pg.py), each a path of one WSGI callable: what the provider's
# statements cost PostgreSQL on their own. Named in BENCH_ENDPOINTS like the workloads; every one
# runs when BENCH_ENDPOINTS is unset, on PostgreSQL only, at the highest load only (the targets'
# load): 5 rows of BENCH_SECONDS + 2 s per server.
PG_FLOORS = {
    "pg_select": "one SELECT (the client by client_id)",
    "pg_insert": "the client's SELECT and the access token's INSERT",
    "pg_insert_bare": "the same INSERT into a table with its primary key only",
    "pg_2selects": "two SELECTs (the client, the token by checksum)",
    "pg_join": "one SELECT of the client joined to the token",
    "pg_userinfo": "UserInfo's own statement (the token, its user and client)",
    "pg_introspection": "introspection's own statement (the client, the token)",
}
PG_FLOOR_APP = "bench.floor_pg:application"
# The provider's endpoints with a PostgreSQL target, and the floor that sends their statements:
# UserInfo's and introspection's own (pg_select, pg_join: the same with fewer columns and joins).
PG_FLOOR_OF = {"userinfo": "pg_userinfo", "introspection": "pg_introspection", "token_opaque": "pg_insert"}


def pg_floor_env(env: dict[str, str], credentials: dict) -> dict[str, str]:
    """Return ``env`` with the keys bench/floor_pg.py looks up: the opaque client, the user's token."""
    authorization = base64.b64decode(credentials["opaque_auth"].removeprefix("Basic ")).decode()
    # RFC 6749 §2.3.1: the client_id is form-encoded before the Basic pair is made (seed.py).
    client_id = unquote(authorization.partition(":")[0])
    checksum = hashlib.sha256(credentials["access_token"].encode()).hexdigest()  # ground/checksums.py
    return {
        **env,
        "BENCH_FLOOR_CLIENT_ID": client_id,
        "BENCH_FLOOR_TOKEN_CHECKSUM": checksum,
        "BENCH_FLOOR_STATEMENTS": json.dumps(credentials["statements"]),
    }


def bench_pg_floors(database: Database, server: str, env: dict[str, str], log_path: Path) -> Iterator[Row]:
    """Serve bench/floor_pg.py under ``server`` on ``database`` and load each floor selected."""
    names = [name for name in PG_FLOORS if not ENDPOINTS or name in ENDPOINTS]
    if not names:
        return
    port = int(env["PORCHLIGHT_BIND"].rpartition(":")[2])
    base_url = f"http://127.0.0.1:{port}"
    with provider(env, log_path, server, PG_FLOOR_APP) as process:
        wait_until_answering(process, base_url, log_path, "/pg_select")
        endpoints = [
            Endpoint(name, f"/{name}", answers=lambda body: "client" in body or "token" in body)
            for name in names
        ]
        check_answers(base_url, endpoints)
        for endpoint in endpoints:
            yield measure(database, process, base_url, endpoint, max(CONNECTIONS), server_name=server)
        if process.poll() is not None:
            raise BenchError(f"the PostgreSQL floor exited during the run:\n{tail(log_path.read_text())}")


# node-oidc-provider's paths for the workloads both serve (bench/node/server.mjs).
NODE_CREDENTIALS = {
    "machine": ("bench-machine", "bench-machine-secret-0123456789abcdef"),
    "relying_party": ("bench-rp", "bench-rp-secret-0123456789abcdef"),
    "access_token": "benchAccessToken0123456789abcdefghijklmnopqrs",
}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def node_endpoints() -> list[Endpoint]:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    token = NODE_CREDENTIALS["access_token"]
    return [
        Endpoint("discovery", "/.well-known/openid-configuration", answers=lambda body: "issuer" in body),
        Endpoint("jwks", "/jwks", answers=lambda body: bool(body.get("keys"))),
        Endpoint(
            "introspection",
            "/token/introspection",
            method="POST",
            body=urlencode({"token": token}),
            headers={"Authorization": basic(*NODE_CREDENTIALS["relying_party"]), **form},
            answers=lambda body: body.get("active") is True,
        ),
        Endpoint(
            "userinfo",
            "/me",
            headers={"Authorization": f"Bearer {token}"},
            answers=lambda body: "sub" in body and "email" in body,
        ),
        Endpoint(
            "token_opaque",
            "/token",
            method="POST",
            body=urlencode({"grant_type": "client_credentials"}),
            headers={"Authorization": basic(*NODE_CREDENTIALS["machine"]), **form},
            answers=lambda body: str(body.get("access_token", "")).count(".") != 2,
        ),
    ]


def ensure_node_provider() -> None:
    """Install node-oidc-provider from bench/node/package-lock.json unless the Makefile did."""
    if (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    if not shutil.which("npm"):
        raise BenchError("npm (Node.js 20.19+) is needed for node-oidc-provider; or set BENCH_NODE=0")
    argv = ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--loglevel=error"]
    run(argv, what="npm ci in bench/node", timeout=600)


def bench_node() -> Iterator[Row]:
    """Run node-oidc-provider (in memory, its defaults, a cluster of WORKERS) and load it as Porchlight."""
    ensure_node_provider()
    endpoints = [e for e in node_endpoints() if not ENDPOINTS or e.name in ENDPOINTS]
    if not endpoints:
        return
    with ExitStack() as stack:
        root = stack.enter_context(temp_dir("porchlight-bench-node-"))
        port = free_port()
        log_path = root / "node.log"
        env = {**os.environ, "PORT": str(port), "BENCH_WORKERS": str(WORKERS), "NODE_ENV": "production"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                ["node", str(NODE_DIR / "server.mjs")],
                cwd=NODE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(stop, process, grace=10)
        base_url = f"http://127.0.0.1:{port}"
        wait_until_answering(process, base_url, log_path)
        check_answers(base_url, endpoints)
        memory = Database("memory", None)
        for endpoint in endpoints:
            for connections in CONNECTIONS:
                yield measure(memory, process, base_url, endpoint, connections, server_name=NODE_NAME)
        if process.poll() is not None:
            raise BenchError(f"node-oidc-provider exited during the run:\n{tail(log_path.read_text())}")


def bench_database(name: str) -> Iterator[Row]:
    """Prepare database ``name``, start the provider on it and yield one row per endpoint and load."""
    with ExitStack() as stack:
        root = stack.enter_context(temp_dir("porchlight-bench-"))
        database = stack.enter_context(postgres_cluster()) if name == "PostgreSQL" else Database(name, None)
        port = free_port()
        env = provider_env(root / "var", port, database.url)
        # BENCH_POOL codes and refresh tokens for each server measured (seed.py).
        seed_env = {**env, "BENCH_POOL": str(POOL * len(SERVERS))}
        if GROWTH:
            seed_env["BENCH_GROWTH"] = "1"
        seeded = run(
            [PYTHON, str(BENCH_DIR / "seed.py")], what=f"preparing {name}", timeout=SEED_TIMEOUT, env=seed_env
        )
        credentials = json.loads(seeded.stdout)
        endpoints = [e for e in endpoints_for(credentials) if not ENDPOINTS or e.name in ENDPOINTS]
        if database.url:
            url = database.url
            floor_pg.create_tables(lambda sql: statements_query(url, sql))
        base_url = f"http://127.0.0.1:{port}"
        for index, server in enumerate(SERVERS):
            log_path = root / f"{server}.log"
            with provider(env, log_path, server) as process:
                wait_until_answering(process, base_url, log_path)
                check_answers(base_url, endpoints)
                for endpoint in endpoints:
                    loads = endpoint.connections or CONNECTIONS
                    # The single-use pools are shared out over every row of every server.
                    later = (len(SERVERS) - index - 1) * len(loads)
                    for done, connections in enumerate(loads):
                        runs_left = later + len(loads) - done
                        yield measure(
                            database, process, base_url, endpoint, connections, runs_left, server_name=server
                        )
                if GROWTH and index == len(SERVERS) - 1:
                    token = next(e for e in endpoints_for(json.loads(seeded.stdout)) if e.name == "token")
                    yield from prune_under_load(database, process, base_url, env, token, server)
                if process.poll() is not None:
                    raise BenchError(f"{server} exited during the run:\n{tail(log_path.read_text())}")
            if database.url:
                # The same server, cluster and load, right after the provider has stopped.
                floor_log = root / f"{server}-floor-pg.log"
                yield from bench_pg_floors(database, server, pg_floor_env(env, credentials), floor_log)


def prune_under_load(
    database: Database,
    server: subprocess.Popen,
    base_url: str,
    env: dict[str, str],
    endpoint: Endpoint,
    server_name: str,
) -> Iterator[Row]:
    """Run housekeeping's batched deletes while ``endpoint`` is loaded; a row per measurement."""
    started = time.monotonic()
    prune = subprocess.Popen(
        [PYTHON, "manage.py", "housekeeping"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while prune.poll() is None:
            if time.monotonic() - started > PRUNE_TIMEOUT:
                raise BenchError(f"housekeeping did not finish within {PRUNE_TIMEOUT} s")
            row = measure(database, server, base_url, endpoint, max(CONNECTIONS), server_name=server_name)
            yield Row(**{**row.__dict__, "endpoint": "token+prune"})
    finally:
        stop(prune, grace=5)
    if prune.returncode != 0:
        raise BenchError(f"housekeeping exited with {prune.returncode}")
    print(f"{database.name}: housekeeping pruned the growth rows in {time.monotonic() - started:.0f} s")


def signing_rates() -> dict[str, float]:
    with temp_dir("porchlight-bench-signing-") as root:
        env = provider_env(root / "var", 8000, None)  # Django only: nothing listens
        done = run([PYTHON, str(BENCH_DIR / "signing.py")], what="signing benchmark", timeout=300, env=env)
        return json.loads(done.stdout)


# --- report -------------------------------------------------------------------------------

ROW_FORMAT = "{:<11} {:<18} {:<14} {:>5} {:>11} {:>8} {:>8} {:>10} {:>9} {:>8} {:>7}"

# Porchlight under its fastest server (least server CPU per request) ÷ node-oidc-provider, at
# the highest load measured: the most each may be, and PostgreSQL's CPU per request.
RATIO_TARGETS = {
    "discovery": 1.0,
    "jwks": 1.0,
    "userinfo": 2.5,
    "introspection": 3.0,
    "token_opaque": 4.0,
}
DATABASE_CPU_TARGETS = {"userinfo": 0.1, "introspection": 0.1, "token_opaque": 0.1}


def print_row(row: Row, floor: dict[tuple[str, int], Row]) -> None:
    base = floor.get((row.server, row.connections))
    print(
        ROW_FORMAT.format(
            row.database,
            row.server,
            row.endpoint,
            row.connections,
            f"{row.requests_per_second:.1f}",
            f"{row.p50_ms:.1f}",
            f"{row.p99_ms:.1f}",
            f"{row.server_cpu_ms:.3f}",
            "-" if row.database_cpu_ms is None else f"{row.database_cpu_ms:.3f}",
            f"{row.requests_per_second / base.requests_per_second:.0%}" if base else "-",
            row.failed,
        )
    )


def met(value: float, target: float) -> str:
    return f"target {target:g}: {'met' if value <= target else 'not met'}"


def print_comparison(rows: list[Row]) -> None:
    """Per endpoint and database: node-oidc-provider, Porchlight under each server, side by side."""
    top = max(CONNECTIONS)
    low = min(CONNECTIONS)
    node = {row.endpoint: row for row in rows if row.server == NODE_NAME and row.connections == top}
    node_low = {row.endpoint: row for row in rows if row.server == NODE_NAME and row.connections == low}
    print(
        f"\nPer endpoint, at {top} connections (p50/p99 also at {low}); ratio: server CPU ms/req "
        f"÷ {NODE_NAME}'s; the target is for Porchlight under its fastest server."
    )
    header = "{:<11} {:<18} {:>10} {:>8} {:>7}  {:<22} {:>15} {:>15} {:>10}"
    for endpoint in dict.fromkeys(row.endpoint for row in rows if row.server != NODE_NAME):
        if endpoint in FLOORS or endpoint in PG_FLOORS:
            continue
        print(f"\n{endpoint}")
        print(
            header.format(
                "database",
                "server",
                "server ms",
                "db ms",
                "ratio",
                "",
                f"p50/p99 @{top}",
                f"p50/p99 @{low}",
                "req/s",
            )
        )
        reference = node.get(endpoint)
        lines: list[tuple[bool, Row, Row | None]] = (
            [(False, reference, node_low.get(endpoint))] if reference else []
        )
        for database in DATABASES:
            measured = [
                row
                for row in rows
                if row.database == database and row.endpoint == endpoint and row.server != NODE_NAME
            ]
            at_top = {
                row.server: row for row in measured if row.connections == max(r.connections for r in measured)
            }
            at_low = {
                row.server: row for row in measured if row.connections == min(r.connections for r in measured)
            }
            quickest = min(at_top.values(), key=lambda row: row.server_cpu_ms, default=None)
            for server, row in at_top.items():
                lines.append((quickest is row, row, at_low.get(server)))
        for fastest, row, row_low in lines:
            ratio, judged = "-", ""
            if reference and row is not reference:
                value = row.server_cpu_ms / max(reference.server_cpu_ms, 1e-9)
                ratio = f"{value:.2f}x"
                if fastest and endpoint in RATIO_TARGETS:
                    judged = met(value, RATIO_TARGETS[endpoint])
            if fastest and row.database_cpu_ms is not None and endpoint in DATABASE_CPU_TARGETS:
                judged += (
                    ("; " if judged else "")
                    + "db "
                    + met(row.database_cpu_ms, DATABASE_CPU_TARGETS[endpoint])
                )
            print(
                header.format(
                    row.database,
                    row.server,
                    f"{row.server_cpu_ms:.3f}",
                    "-" if row.database_cpu_ms is None else f"{row.database_cpu_ms:.3f}",
                    ratio,
                    judged,
                    f"{row.p50_ms:.1f}/{row.p99_ms:.1f}",
                    f"{row_low.p50_ms:.1f}/{row_low.p99_ms:.1f}" if row_low else "-",
                    f"{row.requests_per_second:.0f}",
                )
            )


def print_pg_floors(rows: list[Row]) -> None:
    """PostgreSQL's floors beside the provider's PostgreSQL CPU, per server, at the highest load."""
    top = max(CONNECTIONS)
    at_top = [row for row in rows if row.database == "PostgreSQL" and row.connections == top]
    floors = {(row.server, row.endpoint): row for row in at_top if row.endpoint in PG_FLOORS}
    if not floors:
        return
    print(
        f"\nPostgreSQL's floors at {top} connections (bench/floor_pg.py: psycopg alone, a kept "
        "connection per worker, prepared statements, autocommit), CPU ms/request:"
    )
    header = "{:<18} {:<14} {:>10} {:>8}  {}"
    print(header.format("server", "floor", "server ms", "db ms", "statements"))
    for (server, name), row in floors.items():
        print(
            header.format(
                server, name, f"{row.server_cpu_ms:.3f}", f"{row.database_cpu_ms or 0:.3f}", PG_FLOORS[name]
            )
        )
    print("\nThe provider's PostgreSQL CPU against the floor that sends the same statements:")
    header = "{:<18} {:<14} {:>8} {:<14} {:>8} {:>8}  {}"
    print(header.format("server", "endpoint", "db ms", "floor", "db ms", "above", "target"))
    for row in at_top:
        floor_name = PG_FLOOR_OF.get(row.endpoint, "")
        floor = floors.get((row.server, floor_name))
        if floor is None or row.database_cpu_ms is None or floor.database_cpu_ms is None:
            continue
        target = DATABASE_CPU_TARGETS[row.endpoint]
        judged = met(row.database_cpu_ms, target) + (
            "; the floor itself is above it" if floor.database_cpu_ms > target else ""
        )
        above = row.database_cpu_ms - floor.database_cpu_ms
        print(
            header.format(
                row.server,
                row.endpoint,
                f"{row.database_cpu_ms:.3f}",
                floor_name,
                f"{floor.database_cpu_ms:.3f}",
                f"{above:+.3f}",
                judged,
            )
        )


def gunicorn_setup() -> str:
    """Describe the worker setup porchlight/gunicorn.conf.py gives under this environment."""
    config = runpy.run_path(str(ROOT / "porchlight" / "gunicorn.conf.py"))
    kind = config.get("worker_class", "sync")
    threads = f" x {config['threads']} threads" if kind == "gthread" else ""
    return f"{config['workers']} {kind} workers{threads}"


def problems(rows: list[Row]) -> list[str]:
    found = []
    for row in rows:
        where = f"{row.database} {row.server} {row.endpoint} at {row.connections} connections"
        if row.failed:
            statuses = ", ".join(f"{count} x {status}" for status, count in sorted(row.statuses.items()))
            found.append(f"{where}: {row.failed} responses other than {row.expected_status} ({statuses})")
        if row.socket_errors:
            errors = ", ".join(f"{count} {kind}" for kind, count in row.socket_errors.items())
            found.append(f"{where}: socket errors ({errors})")
    return found


def interrupted(signum, frame) -> None:
    # Ignore a second Ctrl-C or SIGTERM so the cleanup the first one started can finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def profile(endpoint: str) -> int:
    """Print where one endpoint's time goes (bench/hotspots.py), on a throwaway database.

    SQLite, or PostgreSQL when BENCH_DATABASES names only PostgreSQL.
    """
    with ExitStack() as stack:
        root = stack.enter_context(temp_dir("porchlight-bench-profile-"))
        database = stack.enter_context(postgres_cluster()) if DATABASES == ("PostgreSQL",) else None
        env = provider_env(root / "var", 8000, database.url if database else None)  # in process
        env["BENCH_POOL"] = "1000"  # codes or refresh tokens for the token_code/token_refresh profiles
        argv = [PYTHON, str(BENCH_DIR / "hotspots.py"), endpoint]
        try:
            done = run(argv, what=f"profile of {endpoint}", timeout=600, env=env)
        except BenchError as error:
            print(f"bench: FAILED: {error}", file=sys.stderr)
            return 1
        print(done.stdout, end="")
    return 0


def main() -> int:
    # gunicorn's workers (gunicorn.conf.py reads it), as many as Granian's and node's.
    os.environ.setdefault("PORCHLIGHT_WORKERS", str(WORKERS))
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    # Rows appear as they are measured, in order with the messages on stderr, even through a pipe.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    if os.environ.get("PROFILE"):
        return profile(os.environ["PROFILE"])
    node = f", and {NODE_NAME} 9 (bench/node/, in memory, a cluster of {WORKERS} workers)" if NODE else ""
    print(
        f"Porchlight benchmark: {CORES} cores shared with whatever else runs (load average {load} at "
        f"start), gunicorn with {gunicorn_setup()}, wrk with {WRK_THREADS} threads on the same machine, "
        f"127.0.0.1 only.\nEach row: {WARM_UP_SECONDS} s warm-up, then {MEASURE_SECONDS} s measured. "
        "Latency is per request as wrk sees it. CPU ms/req is summed over the server's processes\n"
        "(server) and PostgreSQL's (db), from /proc; SQLite's cost is inside the server figure. "
        "'floor' is requests/s as a share of a\nbare WSGI callable's under the same server "
        f"setup, measured in this run. Servers: {', '.join(SERVERS)}{node}.\n"
        f"Granian: {WORKERS} workers of {THREADS} blocking thread(s) (manage.py serve).\n"
    )
    rows: list[Row] = []
    try:
        ensure_wrk()
        print(
            ROW_FORMAT.format(
                "database",
                "server",
                "endpoint",
                "conns",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "server ms",
                "db ms",
                "floor",
                "failed",
            )
        )
        floor = {}
        for server in SERVERS:
            for row in bench_floor(server):
                floor[(server, row.connections)] = row
                rows.append(row)
                print_row(row, {})
            for row in bench_floor(server, "django_floor"):
                rows.append(row)
                print_row(row, floor)
        if NODE:
            for row in bench_node():
                rows.append(row)
                print_row(row, {})
        for database in DATABASES:
            for row in bench_database(database):
                rows.append(row)
                # A PostgreSQL floor's share of the bare callable's requests/s says nothing.
                print_row(row, {} if row.endpoint in PG_FLOORS else floor)
                if row.statements:
                    print_statements(list(row.statements), row.requests)
                if row.database_processes:
                    print_processes(row.database_processes)
        rates = signing_rates()
    except BenchError as error:
        print(f"\nbench: FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped and temporary files removed", file=sys.stderr)
        return 130
    print_comparison(rows)
    print_pg_floors(rows)
    print("\nID token signing on one core (oidc_provider.keys.sign):")
    for algorithm, rate in rates.items():
        print(f"  {algorithm:<6} {rate:>9.0f} signatures/s")
    signins = [row for row in rows if row.endpoint == "signin" and row.requests_per_second]
    if signins:
        # The password hash dominates: server CPU per sign-in is what one core spends on each.
        print("\nPassword sign-in (the first of settings.PASSWORD_HASHERS):")
    for row in signins:
        print(f"  {row.database:<11} {row.server:<9} {1000 / row.server_cpu_ms:>6.1f} sign-ins/s per core")
    found = problems(rows)
    if found:
        print("\nbench: FAILED: some requests did not succeed:", file=sys.stderr)
        for problem in found:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
