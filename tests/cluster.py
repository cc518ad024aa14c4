"""A PostgreSQL cluster the test owns (it can stop and restart it), server nodes on it, a Redis.

A node is the provider started as an operator starts it, with `manage.py serve`: under gunicorn,
or under Granian when PORCHLIGHT_TEST_SERVER=granian (the Makefile runs the PostgreSQL suite so).
"""

import atexit
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import requests

from tests.environment import ROOT, clean_environment
from tests.pg_cluster import PG_BIN, as_owner, ensure_installed
from tests.pg_cluster import free_port as free_pg_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """A throwaway cluster on 127.0.0.1 that a test can stop (a database outage) and start again."""

    def __init__(self) -> None:
        ensure_installed()
        self.root = Path(tempfile.mkdtemp(prefix="porchlight-pg-test-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_pg_port()
        self.url = f"postgres://porchlight@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "porchlight",
                    "--auth=trust",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c fsync=off -c full_page_writes=off"
        subprocess.run(
            as_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-t",
                    "30",
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        subprocess.run(
            as_owner(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-t", "30", "-w", "stop"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def redis_server(log: Path) -> Iterator[str]:
    """Run Debian's redis-server on a free loopback port, without persistence; yield its URL."""
    port = free_port()
    redis_binary = shutil.which("redis-server")
    assert redis_binary, "redis-server is not installed"
    with log.open("ab") as output:
        server = subprocess.Popen(
            [redis_binary, "--port", str(port), "--bind", "127.0.0.1"] + ["--save", "", "--appendonly", "no"],
            stdout=output,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"redis-server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def node_environment(var_dir: Path, database_url: str | None, **settings: str) -> dict[str, str]:
    """Return the environment of a node on ``database_url``; ``settings`` are PORCHLIGHT_ variables.

    Without a database URL the node keeps its SQLite database under ``var_dir``, as on a laptop.
    """
    env = clean_environment(var_dir, PORCHLIGHT_ACCESS_LOG="")
    if database_url:
        env["DATABASE_URL"] = database_url
    # The apps' back-channel endpoints in tests (tests/logout_receiver.py) listen on loopback.
    env.update(PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8,::1/128")
    env.update({f"PORCHLIGHT_{name}": value for name, value in settings.items()})
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command as an operator would; return its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_user(env: dict[str, str], username: str, password: str, **fields: str) -> None:
    """Create a user in the node's database as an operator would, from the shell."""
    manage(
        env,
        "shell",
        "-v0",
        "-c",
        "from accounts.models import User; "
        f"User.objects.create_user(username={username!r}, password={password!r}, **{fields!r})",
    )


def create_users(env: dict[str, str], password: str, *usernames: str) -> None:
    """Create several users with one password from one shell run (each ``manage.py`` start costs a second)."""
    manage(
        env,
        "shell",
        "-v0",
        "-c",
        f"from accounts.models import User\nfor name in {list(usernames)!r}: "
        f"User.objects.create_user(username=name, password={password!r})",
    )


def stop(process: subprocess.Popen) -> None:
    """Ask ``process`` to stop as a service manager does; kill it if it has not within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# The server nodes run under: gunicorn (the default) or granian, as PORCHLIGHT_SERVER chooses.
TEST_SERVER = os.environ.get("PORCHLIGHT_TEST_SERVER") or "gunicorn"
# The servers a test of serving itself (tests/ops/test_serve.py) runs under: both, unless the run names
# one. `make test` names gunicorn for the SQLite suite and Granian for the PostgreSQL one, so each
# such test runs under each server once per `make test`, not twice.
SERVERS_UNDER_TEST = (
    [os.environ["PORCHLIGHT_TEST_SERVER"]]
    if os.environ.get("PORCHLIGHT_TEST_SERVER")
    else ["gunicorn", "granian"]
)


def wait_until_serving(base: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Wait until ``base`` answers discovery; fail with the log's end if the server exits or hangs.

    A loaded machine (both suites, the image test and the checks at once) can take a minute to
    start a node, and its first answer, which loads what the first request needs, seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(base + "/.well-known/openid-configuration", timeout=10, allow_redirects=False)
            return
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)


@contextmanager
def server_node(
    env: dict[str, str],
    log: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    server: str | None = None,
    process: list[subprocess.Popen] | None = None,
) -> Iterator[str]:
    """Serve the provider with `manage.py serve` on ``port`` (a free loopback one by default); yield its URL.

    ``server`` is gunicorn or granian (PORCHLIGHT_TEST_SERVER's choice by default); ``process``,
    when given, receives the server's process (a test that signals it).
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **env,
        "PORCHLIGHT_BIND": f"127.0.0.1:{port}",
        "PORCHLIGHT_ISSUER": env.get("PORCHLIGHT_ISSUER", base),
        "PORCHLIGHT_WORKERS": str(workers),
        "PORCHLIGHT_SERVER": server or TEST_SERVER,
    }
    with log.open("ab") as output:
        running = subprocess.Popen(
            [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
    if process is not None:
        process.append(running)
    try:
        wait_until_serving(base, running, log)
        yield base
    finally:
        stop(running)


# The name the tests knew when every node ran gunicorn.
gunicorn_node = server_node


@contextmanager
def task_worker(env: dict[str, str], log: Path) -> Iterator[None]:
    """Run the task worker (`manage.py db_worker`) as `make run` does, until the block ends."""
    with log.open("ab") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        yield
    finally:
        stop(worker)


def _postgres_admin() -> tuple[dict, str]:
    """Return how to connect to the test database's server as its owner, and a URL prefix for it."""
    from django.db import connection

    settings = connection.settings_dict
    admin = dict(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], password=settings["PASSWORD"]
    )
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return admin, f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT']}/"


class _Migrated(TypedDict, total=False):
    folder: Path
    sqlite: Path
    postgresql: str  # the database's name
    static: Path  # a STATIC_ROOT filled by collectstatic


# Databases with every migration applied, and the static files collected, made once per test
# process and then copied for each node: migrating from nothing costs seconds of CPU, collecting
# (and compressing) the static files two, and tests of serving need not repeat either.
_migrated: _Migrated = {}


def _migration_folder() -> Path:
    if "folder" not in _migrated:
        _migrated["folder"] = Path(tempfile.mkdtemp(prefix="porchlight-migrated-"))
        atexit.register(shutil.rmtree, _migrated["folder"], ignore_errors=True)
    return _migrated["folder"]


def _migrated_sqlite() -> Path:
    if "sqlite" not in _migrated:
        manage(node_environment(_migration_folder(), None), "migrate", "-v0")
        _migrated["sqlite"] = _migration_folder() / "porchlight.sqlite3"
    return _migrated["sqlite"]


def _drop_postgres(name: str) -> None:
    import psycopg

    admin, _ = _postgres_admin()
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _forget_postgres(name: str) -> None:
    import psycopg

    # At exit: the throwaway cluster of tests/pg_cluster.py may be gone already, and with it the database.
    with suppress(psycopg.Error):
        _drop_postgres(name)


def _migrated_postgres() -> str:
    import psycopg

    if "postgresql" not in _migrated:
        admin, prefix = _postgres_admin()
        name = f"porchlight_migrated_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
            pg.execute(f'CREATE DATABASE "{name}"')
        atexit.register(_forget_postgres, name)
        manage(node_environment(_migration_folder(), prefix + name), "migrate", "-v0")
        _migrated["postgresql"] = name
    return _migrated["postgresql"]


# --- one migration per run ------------------------------------------------------------------
#
# Each process of a `pytest -n` run makes its own test database. The first to get there migrates
# it and keeps a copy in a folder the run's processes share; the others copy that instead of
# migrating again (seconds of CPU each). Only the test database's `migrate` is replaced, while
# pytest-django makes it (tests/conftest.py); Django's own steps around it run as they do.

_call_command: Callable[..., Any] | None = None


def _copy_test_database(sqlite_file: Path, prefix: str) -> str:
    """Copy the test database (to ``sqlite_file``, or to a new PostgreSQL database named from
    ``prefix``); return the copy's file or database name."""
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with closing(sqlite3.connect(sqlite_file)) as copy:
            connection.connection.backup(copy)
        return str(sqlite_file)
    import psycopg

    admin, _ = _postgres_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    source = connection.settings_dict["NAME"]
    connection.close()  # a template database may have no other session
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return name


def _restore_test_database(kept: str) -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with closing(sqlite3.connect(kept)) as source:
            source.backup(connection.connection)
        return
    import psycopg

    admin, _ = _postgres_admin()
    name = connection.settings_dict["NAME"]
    connection.close()
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'DROP DATABASE "{name}"')
        pg.execute(f'CREATE DATABASE "{name}" TEMPLATE "{kept}"')


def migrate_test_database_once(shared: Path) -> None:
    """Until ``migrated_test_database``, the test database's migrate runs once per ``shared`` folder."""
    global _call_command
    from django.core import management

    original = _call_command = management.call_command

    def call_command(command_name: Any, *args: Any, **options: Any) -> Any:
        if command_name != "migrate" or not options.get("run_syncdb"):
            return original(command_name, *args, **options)
        with (shared / "migrated.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            marker = shared / "migrated.name"
            if marker.exists():
                _restore_test_database(marker.read_text())
                return None
            result = original(command_name, *args, **options)
            marker.write_text(_copy_test_database(shared / "migrated.sqlite3", "porchlight_run"))
            return result

    management.call_command = call_command


def migrated_test_database() -> None:
    """End ``migrate_test_database_once``: ``call_command`` is Django's own again."""
    global _call_command
    from django.core import management

    if _call_command is not None:
        management.call_command = _call_command
        _call_command = None


def keep_migrated_copy() -> None:
    """Keep a copy of the test database, just made by migrating, for the nodes' databases.

    Called once per test process right after pytest-django creates the test database (the
    ``django_db_setup`` of tests/conftest.py), so ``migrated_sqlite`` and ``scratch_database``
    copy what ``manage.py migrate`` made instead of migrating once more.
    """
    from django.db import connection

    copy = _copy_test_database(_migration_folder() / "porchlight.sqlite3", "porchlight_migrated")
    if connection.vendor == "sqlite":
        _migrated["sqlite"] = Path(copy)
    else:
        atexit.register(_forget_postgres, copy)
        _migrated["postgresql"] = copy


def migrated_postgres(env: dict[str, str]) -> None:
    """Bring the PostgreSQL database of ``env`` to every migration applied, as `manage.py migrate` does.

    In a PostgreSQL run it becomes a copy of the run's migrated database, by pg_dump into psql: it
    may be on another cluster (``PostgresCluster``), which no template reaches, and migrating it from
    nothing costs some 14 s of CPU besides the server's. A SQLite run, which has no migrated
    PostgreSQL database to copy, migrates it.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        manage(env, "migrate", "-v0")
        return
    admin, _ = _postgres_admin()
    source = dict(PGHOST=admin["host"], PGPORT=str(admin["port"]), PGUSER=admin["user"])
    source.update(PGPASSWORD=admin["password"] or "", PGDATABASE=_migrated_postgres())
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "--no-owner", "--no-privileges"],
        env={**os.environ, **source},
        capture_output=True,
        check=True,
    )
    subprocess.run(
        [str(PG_BIN / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", env["DATABASE_URL"]],
        input=dump.stdout,
        capture_output=True,
        check=True,
    )


def _collected_static() -> Path:
    if "static" not in _migrated:
        var_dir = _migration_folder() / "static"
        manage(node_environment(var_dir, None), "collectstatic", "--no-input", "-v0")
        _migrated["static"] = var_dir / "staticfiles"
    return _migrated["static"]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def collected_static(var_dir: Path) -> None:
    """Put static files as ``manage.py collectstatic`` leaves them where a node on ``var_dir`` serves them.

    The files are links to one collection per test process; nothing a node does writes to them.
    """
    shutil.copytree(_collected_static(), var_dir / "staticfiles", copy_function=_link_or_copy)


def migrated_sqlite(var_dir: Path) -> None:
    """Put a database with every migration applied where a node on ``var_dir`` keeps its SQLite one."""
    with (
        closing(sqlite3.connect(_migrated_sqlite())) as source,
        closing(sqlite3.connect(var_dir / "porchlight.sqlite3")) as copy,
    ):
        source.backup(copy)


@contextmanager
def scratch_database(tmp_path: Path, *, migrated: bool = False) -> Iterator[str]:
    """Yield the URL of a database beside the test database (same engine); drop it afterwards.

    It is empty, or with ``migrated`` has every migration applied, as ``manage.py migrate`` leaves it.
    """
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        if migrated:
            migrated_sqlite(tmp_path)
        yield f"sqlite:///{tmp_path / 'porchlight.sqlite3'}"
        return
    admin, prefix = _postgres_admin()
    name = f"porchlight_scratch_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_postgres()}"' if migrated else ""
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield prefix + name
    finally:
        _drop_postgres(name)


@dataclass
class ServedProvider:
    """The provider under `manage.py serve` on a database of its own, set up with `manage.py` alone."""

    url: str
    env: dict[str, str]
    log: Path
    pid: int  # the server's (`manage.py serve` becomes the server)

    def log_tail(self, size: int = 6000) -> str:
        """Return the end of the server's log (its errors and tracebacks), for a failing test's report."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-size:] or "(the server wrote nothing)"

    def create_user(self, username: str, password: str, **fields: object) -> str:
        """Create a user from the shell, as an operator would; return the user's subject (``sub``)."""
        code = (
            "from accounts.models import User; "
            f"user = User.objects.create_user(username={username!r}, password={password!r}, **{fields!r}); "
            "print(user.subject)"
        )
        return manage(self.env, "shell", "-v0", "-c", code).strip()

    def create_client(
        self,
        name: str,
        *,
        redirect_uri: str,
        post_logout_redirect_uri: str,
        public: bool = False,
        grant_types: Sequence[str] = (),
        require_pkce: bool = True,
        allowed_origins: Sequence[str] = (),
    ) -> tuple[str, str | None]:
        """Register a client with `manage.py createclient`; return its id and secret (None if public)."""
        args = [name, "--redirect-uri", redirect_uri, "--post-logout-redirect-uri", post_logout_redirect_uri]
        args += ["--public"] if public else []
        args += [option for grant in grant_types for option in ("--grant-type", str(grant))]
        args += [] if require_pkce else ["--no-require-pkce"]
        args += [option for origin in allowed_origins for option in ("--allowed-origin", origin)]
        created = json.loads(manage(self.env, "createclient", *args, "--json"))
        return created["client_id"], created["client_secret"]

    def delete_client(self, client_id: str) -> None:
        """Delete a client with everything it holds, with `manage.py deleteclient`."""
        manage(self.env, "deleteclient", client_id, "--no-input")


@contextmanager
def served_provider(folder: Path, *, workers: int = 2, **settings: str) -> Iterator[ServedProvider]:
    """Serve the provider as production does, on a migrated database of its own; yield it.

    Static files are collected (once per test process: ``collected_static``) and signing keys made with
    `manage.py rotatekeys`, then `manage.py serve`
    starts the server PORCHLIGHT_TEST_SERVER names (``server_node``) with ``workers`` workers, so
    one sign-in's requests reach different processes. ``settings`` are PORCHLIGHT_ variables.
    The server is stopped by its PID, and the database dropped, when the block ends.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    with scratch_database(folder, migrated=True) as database_url:
        env = node_environment(folder, database_url, ISSUER=url, **settings)
        collected_static(folder)
        manage(env, "rotatekeys")
        process: list[subprocess.Popen] = []
        with server_node(env, log, workers=workers, port=port, process=process):
            yield ServedProvider(url, env, log, process[0].pid)
