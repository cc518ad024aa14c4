"""WSGI entry point (gunicorn porchlight.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")

application = get_wsgi_application()
# gunicorn loads this module in its master and forks the workers from it (preload_app), and
# each worker keeps its database connection between requests: no worker may inherit one the
# master opened (SQLite and libpq connections must not cross fork()).
connections.close_all()
