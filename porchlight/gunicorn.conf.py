"""Gunicorn configuration; every value can be overridden with PORCHLIGHT_* variables."""

import json
import multiprocessing
import os
import re
import shutil
from pathlib import Path

from gunicorn.glogging import Logger

from ops.log_redaction import SecretPathFilter, redact_secret_paths

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORCHLIGHT_VAR_DIR", BASE_DIR / "var"))
LOG_FORMAT = os.environ.get("PORCHLIGHT_LOG_FORMAT", "plain")
# Load balancers probe these every second or so; a line each would drown the log.
PROBE_PATHS = {"/healthz", "/readyz"}


class RedactingLogger(Logger):
    """gunicorn's logger, with secret-carrying paths (password-reset links) redacted from both logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(existing, SecretPathFilter) for existing in log.filters):
                log.addFilter(SecretPathFilter())

    def access(self, resp, req, environ, request_time) -> None:
        if environ.get("PATH_INFO") in PROBE_PATHS and str(resp.status).startswith("200"):
            return
        if LOG_FORMAT != "json" or not self.access_log_enabled:
            super().access(resp, req, environ, request_time)
            return
        headers = dict((name.lower(), value) for name, value in resp.headers)
        entry = {
            "time": self.now(),
            "logger": "gunicorn.access",
            "request_id": headers.get("x-request-id", "-"),
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD"),
            # The path only: query strings carry codes and tokens on some endpoints.
            "path": redact_secret_paths(environ.get("PATH_INFO", "")),
            "status": int(str(resp.status).split(None, 1)[0]),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }
        self.access_log.info(json.dumps(entry))


bind = os.environ.get("PORCHLIGHT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORCHLIGHT_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("PORCHLIGHT_THREADS", "1"))
# sync or gthread (gunicorn picks gthread by itself when PORCHLIGHT_THREADS > 1). Measured with
# `make bench` (PostgreSQL, 64 connections, two rounds, README "Performance"): gthread with 4
# threads (keep-alive) spends 5-15% less server CPU per request on the endpoints that query the
# database and the same on discovery, but its p99 latency is 2-5 times sync's on the cheap
# endpoints (threads of one worker queue behind each other for the GIL). sync stays the default.
worker_class = os.environ.get("PORCHLIGHT_WORKER_CLASS", "sync")
timeout = int(os.environ.get("PORCHLIGHT_WORKER_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Load the app once in the master so workers fork with it ready; keys are read per request.
preload_app = True
# "-" logs to stdout; an empty value turns the access log off.
accesslog = os.environ.get("PORCHLIGHT_ACCESS_LOG", "-") or None
# Query strings carry codes and tokens on some endpoints: log the path only. Paths that carry a
# secret themselves are redacted by the logger class.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
logger_class = RedactingLogger
wsgi_app = "porchlight.wsgi:application"
# No peer's X-Forwarded-Proto changes the scheme here, nor may any peer set SCRIPT_NAME by header:
# the application judges forwarded headers by PORCHLIGHT_TRUSTED_PROXIES (ops/wsgi_environ.py), as
# it does under Granian. Headers spelled with an underscore are dropped (gunicorn's header_map).
forwarded_allow_ips = ""

# gunicorn 27's control socket defaults to one path in the home directory, shared by every
# instance of the same user (two instances delete each other's); off unless a path is given.
control_socket = os.environ.get("PORCHLIGHT_CONTROL_SOCKET", "") or str(VAR_DIR / "gunicorn.ctl")
control_socket_disable = not os.environ.get("PORCHLIGHT_CONTROL_SOCKET")

# prometheus-client's multiprocess mode (ops/metrics.py): one directory per instance (two
# instances on one host must not add up or wipe each other's files), emptied at start. This file
# is read before the app is preloaded, and prometheus-client needs the directory when the
# metrics are created.
_instance = re.sub(r"[^A-Za-z0-9]+", "-", bind).strip("-")
_metrics_dir = Path(os.environ.get("PORCHLIGHT_METRICS_DIR") or VAR_DIR / f"prometheus-{_instance}")
shutil.rmtree(_metrics_dir, ignore_errors=True)
_metrics_dir.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def child_exit(server, worker) -> None:
    """Fold a finished worker's gauges away (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
