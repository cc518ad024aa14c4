"""manage.py serve: start the configured HTTP server (gunicorn or Granian) with Porchlight's settings."""

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.signup.checks import check_signup_settings
from ops.checks import PROXY_HEADERS_HINT, proxy_headers_problem

SERVERS = ("gunicorn", "granian")
# Seconds an old Granian worker keeps serving after its replacement started, on SIGHUP.
RELOAD_OVERLAP = 10


def _count(name: str, configured: str | None, default: int) -> int:
    value = configured or str(default)
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise CommandError(f"{name} must be at least 1")
    return number


def bind_arguments(bind: str) -> list[str]:
    """Return Granian's options for a gunicorn-style address: ``host:port``, ``[v6]:port``, ``unix:path``."""
    if bind.startswith("unix:"):
        return ["--uds", bind[len("unix:") :]]
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"PORCHLIGHT_BIND must be host:port or unix:path, not {bind!r}")
    return ["--host", host.strip("[]"), "--port", port]


def metrics_folder(bind: str) -> Path:
    """Return prometheus-client's multiprocess folder of the instance on ``bind``, emptied.

    One per instance, as gunicorn.conf.py makes it: two instances on one host must neither add up
    nor wipe each other's files. Emptied at start: the files of an earlier run would be added in.
    """
    instance = re.sub(r"[^A-Za-z0-9]+", "-", bind).strip("-")
    folder = Path(os.environ.get("PORCHLIGHT_METRICS_DIR") or settings.VAR_DIR / f"prometheus-{instance}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def gunicorn_command() -> list[str]:
    """Return the command line that runs gunicorn; porchlight/gunicorn.conf.py reads the rest."""
    config = settings.BASE_DIR / "porchlight" / "gunicorn.conf.py"
    return [sys.executable, "-m", "gunicorn", "--chdir", str(settings.BASE_DIR), "-c", str(config)]


def granian_command() -> list[str]:
    """Return the command line that runs Granian with Porchlight's settings (the environment)."""
    bind = os.environ.get("PORCHLIGHT_BIND", "127.0.0.1:8000")
    workers = _count("PORCHLIGHT_WORKERS", os.environ.get("PORCHLIGHT_WORKERS"), (os.cpu_count() or 1) * 2)
    threads = _count("PORCHLIGHT_THREADS", os.environ.get("PORCHLIGHT_THREADS"), 1)
    # Read by each worker (porchlight/granian_wsgi.py, ops/metrics.py) from the environment.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(bind))
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        *bind_arguments(bind),
        "--working-dir",
        str(settings.BASE_DIR),
        "--workers",
        str(workers),
        # The threads a worker answers requests on: gunicorn's threads.
        "--blocking-threads",
        str(threads),
        # HTTP/1.1 only, as gunicorn speaks it to the proxy in front.
        "--http",
        "1",
        # A worker that dies is replaced at once, as gunicorn's arbiter does (a second death within
        # a few seconds of the replacement stops Granian: a crash loop, for the service manager).
        "--respawn-failed-workers",
        # SIGHUP replaces the workers one at a time, stopping the old one this many seconds after
        # its replacement started. A Granian worker loads Django before it listens (a few seconds;
        # gunicorn forks its workers from a loaded master): stopping the old one sooner leaves
        # nobody listening, and connections are refused.
        "--respawn-interval",
        str(RELOAD_OVERLAP),
        # gunicorn's graceful_timeout: a stopping worker finishes its requests for this long.
        "--workers-kill-timeout",
        "10",
        # The access log is Porchlight's own, with the request id (ops/access_log.py).
        "--no-access-log",
        "porchlight.granian_wsgi:application",
    ]


class Command(BaseCommand):
    help = (
        "Serve Porchlight with the server PORCHLIGHT_SERVER names (gunicorn, the default, or granian), "
        "on PORCHLIGHT_BIND with PORCHLIGHT_WORKERS workers of PORCHLIGHT_THREADS threads. This "
        "process becomes the server: SIGHUP reloads the workers gracefully, SIGTERM stops it."
    )
    # Like gunicorn, the server starts without Django's system checks; `manage.py check --deploy`
    # is for the deployment.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        # The server the system checks judged (ops/checks.py): settings read PORCHLIGHT_SERVER.
        server = settings.PORCHLIGHT["SERVER"]
        if server not in SERVERS:
            raise CommandError(f"PORCHLIGHT_SERVER must be one of {', '.join(SERVERS)}, not {server!r}")
        # Forwarded headers a client could forge under this server: refused, not served.
        if problem := proxy_headers_problem():
            raise CommandError(f"{problem} {PROXY_HEADERS_HINT}")
        # The sign-up settings staff wrote (fields, terms URL, breached-password list): refused
        # here too, as the server runs no system checks.
        if problems := check_signup_settings():
            raise CommandError(
                " ".join(f"{problem.msg} {problem.hint or ''}".strip() for problem in problems)
            )
        command = gunicorn_command() if server == "gunicorn" else granian_command()
        sys.stdout.flush()
        sys.stderr.flush()
        # The server replaces this process, so a service manager's signals (SIGHUP, SIGTERM)
        # reach it directly, and its exit status is the command's.
        os.execv(command[0], command)  # noqa: S606 - a fixed command line, no shell
