"""Gunicorn configuration; every value can be overridden with PORCHLIGHT_* variables."""

import multiprocessing
import os

from gunicorn.glogging import Logger

from porchlight.log_redaction import SecretPathFilter


class RedactingLogger(Logger):
    """gunicorn's logger, with secret-carrying paths (password-reset links) redacted from both logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(existing, SecretPathFilter) for existing in log.filters):
                log.addFilter(SecretPathFilter())


bind = os.environ.get("PORCHLIGHT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORCHLIGHT_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("PORCHLIGHT_THREADS", "1"))
timeout = int(os.environ.get("PORCHLIGHT_WORKER_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Load the app once in the master so workers fork with it ready; keys are read per request.
preload_app = True
# "-" logs to stdout; an empty value turns the access log off.
accesslog = os.environ.get("PORCHLIGHT_ACCESS_LOG", "-") or None
# Query strings carry codes and tokens on some endpoints: log the path only. Paths that carry a
# secret themselves are redacted by the logger class.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
logger_class = RedactingLogger
wsgi_app = "porchlight.wsgi:application"
