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
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from typing import Any

from ops.log_redaction import redact_secret_paths
from ops.wsgi_environ import Environ, StartResponse, WSGIApplication

# Load balancers probe these every second or so; a line each would drown the log.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
LOGGER = "granian.access"
MESSAGE_ONLY = "%(message)s"


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
        handler.setFormatter(logging.Formatter(MESSAGE_ONLY))
        logger.addHandler(handler)
    return logger


def _writer(logger: logging.Logger) -> Callable[[str], None]:
    """Return what writes one line to ``logger``'s destination.

    For the handler ``access_logger`` sets up, the line goes straight to its stream, under the
    handler's lock and flushed, as the handler would write it: a LogRecord, its formatting and
    the logging machinery around them cost more than the rest of the line (ops/access_log.py is
    on every request under Granian). Any other setup is logged as such.
    """
    handlers = logger.handlers
    direct = (
        len(handlers) == 1
        and not logger.filters
        and not handlers[0].filters
        and isinstance(handlers[0], logging.StreamHandler)
        and handlers[0].formatter is not None
        and handlers[0].formatter._fmt == MESSAGE_ONLY
    )
    if not direct:
        return logger.info
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)

    def write(line: str) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        try:
            with handler.lock or nullcontext():
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()
        except Exception:  # noqa: BLE001 - as the handler's own emit: a lost line never fails a request
            handler.handleError(logging.makeLogRecord({"msg": line}))

    return write


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


class _Response:
    """What the application answered: its status and request id (start_response's, as sent)."""

    __slots__ = ("start_response", "status", "request_id")

    def __init__(self, start_response: StartResponse) -> None:
        self.start_response, self.status, self.request_id = start_response, "500", "-"

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = status
        for name, value in headers:
            if len(name) == 12 and name.lower() == "x-request-id":
                self.request_id = value
                break
        return self.start_response(status, headers, exc_info)


class AccessLog:
    """Log each request ``app`` answers, in gunicorn's plain or JSON access-log format."""

    def __init__(self, app: WSGIApplication, logger: logging.Logger | None, log_format: str) -> None:
        self.app, self.logger, self.json = app, logger, log_format == "json"
        self.write = _writer(logger) if logger is not None else None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = self.write
        if write is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        response = _Response(start_response)

        def done(sent: int) -> None:
            status = str(response.status)
            if status.startswith("200") and environ.get("PATH_INFO", "") in PROBE_PATHS:
                return
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            write(self.line(environ, status, {"x-request-id": response.request_id}, sent, elapsed_ms))

        body = self.app(environ, response)
        if type(body) is list:
            # Complete already (the published documents, ops/documents.py): nothing to close, so
            # the line is written now rather than through a wrapper around the body.
            done(sum(map(len, body)))
            return body
        return _Body(body, done)

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
