"""WSGI entry point (gunicorn porchlight.wsgi)."""

import gc
import os

import django
from django.core.handlers.wsgi import WSGIRequest
from django.db import connections

from ops.lean_path import LeanWSGIHandler
from ops.malformed_requests import CONTENT_TYPE_ERROR
from ops.wsgi_environ import RequestEnviron

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")


class Request(WSGIRequest):
    """Django's WSGI request, built even from a Content-Type header Django cannot parse."""

    def __init__(self, environ: dict) -> None:
        try:
            super().__init__(environ)
        except (ValueError, LookupError):
            # Django parses the header's parameters while it builds the request, before any
            # middleware runs: an RFC 2231 value in an unknown charset, a NUL in charset, or a
            # charset that is no text encoding (base64) with a query string to decode raised past
            # Django's handler to gunicorn's own 500 page. Build the request without the
            # parameters; the malformed-request middleware answers 400.
            media_type = environ.get("CONTENT_TYPE", "").partition(";")[0]
            super().__init__({**environ, "CONTENT_TYPE": media_type, CONTENT_TYPE_ERROR: True})


class Handler(LeanWSGIHandler):
    """Django's WSGI handler, building each request with ``Request``.

    Protocol paths go straight down the lean middleware chain (ops/lean_path.py).
    """

    request_class = Request


# As django.core.wsgi.get_wsgi_application() does, with the request class above.
django.setup(set_prefix=False)

from ops.documents import PublishedDocuments  # noqa: E402 - needs the apps loaded (its views' models)

django_application = Handler()
# Discovery, RFC 8414 metadata and the JWKS are answered from bytes this process holds, in front
# of Django's request cycle, until the key set (or catalogue) may have changed (ops/documents.py).
# Outermost, the request's own environ (ops/wsgi_environ.py): the kept documents are chosen by
# the scheme and Host it settles, and never see the process environment.
published_documents = PublishedDocuments(django_application)
application = RequestEnviron(published_documents)
# gunicorn loads this module in its master and forks the workers from it (preload_app), and
# each worker keeps its database connection between requests: no worker may inherit one the
# master opened (SQLite and libpq connections must not cross fork()).
connections.close_all()
# What the process holds once loaded (Django, the apps, the URL and template machinery: some
# 230,000 objects) lives as long as the process: moved out of the collector's generations, it is
# no longer traversed by every full collection a request's allocations trigger (15-20% of
# UserInfo's CPU in process, `make bench PROFILE=userinfo`). gunicorn's workers inherit the
# frozen heap from the master (preload_app), and copy less of it on write; each Granian worker
# loads this module and freezes its own. Garbage left from loading is collected first.
gc.collect()
gc.freeze()
