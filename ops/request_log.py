"""Request ids and log formats: every request gets an id, echoed as ``X-Request-ID`` and logged.

The one line per request is gunicorn's access log (gunicorn.conf.py), which prints the response's
``X-Request-ID``; whatever Django logs while answering carries the same id. With
``PORCHLIGHT_LOG_FORMAT=json`` both are JSON lines. Secrets never reach a line: query strings are
not logged and secret-carrying paths are redacted (ops/log_redaction.py).
"""

import contextvars
import json
import logging
import os
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
# A proxy's id is kept when it looks like one (a UUID, a hex or base64url string); anything else
# could inject text into log lines, so it is replaced.
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._\-]{8,128}")

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    """Return ``uuid.uuid4().hex``: 16 random bytes, version 4 and the RFC 9562 variant, in hex.

    The same bits ``uuid.UUID(bytes=..., version=4)`` sets, without building the object.
    """
    value = int.from_bytes(os.urandom(16), "big")
    # RFC 9562 §4.1 (variant 10xx) and §5.4 (version 4), as uuid.UUID.__init__ sets them.
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    value = (value & ~(0xF000 << 64)) | (4 << 76)
    return f"{value:032x}"


class RequestIdMiddleware:
    """Take the proxy's ``X-Request-ID`` or make one; expose it to logs and return it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if ACCEPTABLE_ID.fullmatch(offered) else new_request_id()
        # For code that has the request at hand; HttpRequest does not declare the attribute.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


# Attributes every LogRecord has; anything else was passed in ``extra`` and is worth keeping.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
