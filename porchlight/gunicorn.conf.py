"""Gunicorn configuration; every value can be overridden with PORCHLIGHT_* variables."""

import multiprocessing
import os

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
# Query strings carry codes and tokens on some endpoints: log the path only.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
wsgi_app = "porchlight.wsgi:application"
