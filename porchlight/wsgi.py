"""WSGI entry point (gunicorn porchlight.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")

application = get_wsgi_application()
