"""The access log under Granian: one line per request, as gunicorn.conf.py writes it under gunicorn.

Granian's own access log knows request headers only, not the response's ``X-Request-ID``
(ops/request_log.py), so ``manage.py serve`` turns it off and the Granian entry point
(porchlight/granian_wsgi.py) wraps the application in ``AccessLog``. The line is gunicorn's:
plain (``127.0.0.1 "GET /path" 200 512 3ms <request id>``) or, with ``PORCHLIGHT_LOG_FORMAT=json``,
the same JSON object. Query strings are never logged, secret-carrying paths are redacted
(ops/log_redaction.py), and successful probes (``/healthz``, ``/readyz``) are left out.
"""

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ops.log_redaction import redact_secret_paths
from ops.wsgi_environ import Environ, StartResponse, WSGIApplication

# Load balancers probe these every second or so; a line each would drown the log.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
LOGGER = "granian.access"


def access_logger(destination: str) -> logging.Logger | None:
    """Return the logger lines go to: stdout for ``-``, else the file named; None when empty (off)."""
    if not destination:
        return None
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    # Lines are complete here; Django's logging configuration must not print them twice.
    logger.propagate = False
    if not logger.handlers:
        handler: logging.Handler = (
            logging.StreamHandler(sys.stdout) if destination == "-" else logging.FileHandler(destination)
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


class _Body:
    """The response body, counted as it is sent; the line is logged when the server closes it."""

    def __init__(self, body: Iterable[bytes], done) -> None:
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)


class AccessLog:
    """Log each request ``app`` answers, in gunicorn's plain or JSON access-log format."""

    def __init__(self, app: WSGIApplication, logger: logging.Logger | None, log_format: str) -> None:
        self.app, self.logger, self.json = app, logger, log_format == "json"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        logger = self.logger
        if logger is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        response: dict[str, Any] = {}

        def record(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            response["status"] = status
            response["headers"] = headers
            return start_response(status, headers, exc_info)

        def done(sent: int) -> None:
            status = str(response.get("status", "500"))
            path = environ.get("PATH_INFO", "")
            if path in PROBE_PATHS and status.startswith("200"):
                return
            headers = {name.lower(): value for name, value in response.get("headers", [])}
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            logger.info(self.line(environ, status, headers, sent, elapsed_ms))

        return _Body(self.app(environ, record), done)

    def line(self, environ: Environ, status: str, headers: dict[str, str], sent: int, elapsed_ms: int) -> str:
        """Return the access-log line of one request."""
        request_id = headers.get("x-request-id", "-")
        remote = environ.get("REMOTE_ADDR", "-")
        # The path only: query strings carry codes and tokens on some endpoints.
        path = redact_secret_paths(environ.get("PATH_INFO", ""))
        code = status.split(None, 1)[0]
        if not self.json:
            method = environ.get("REQUEST_METHOD", "-")
            return f'{remote} "{method} {path}" {code} {sent if sent else "-"} {elapsed_ms}ms {request_id}'
        return json.dumps(
            {
                "time": time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
                "logger": LOGGER,
                "request_id": request_id,
                "remote_addr": remote,
                "method": environ.get("REQUEST_METHOD"),
                "path": path,
                "status": int(code),
                "bytes": sent,
                "duration_ms": elapsed_ms,
            }
        )
