"""A second floor for ``make bench``: the least Django there is, answering a constant JSON document.

Django's handler, URL resolution and request/response objects, with no middleware, no database
and no apps: what any Django view costs before Porchlight's lean chain (ops/lean_path.py) and its
own code add anything. Served by the same servers as bench/floor.py and the provider.
"""

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.urls import path

BODY = b'{"floor": true}'


def constant(request):
    return HttpResponse(BODY, content_type="application/json")


urlpatterns = [path("floor", constant)]

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    SECRET_KEY="bench-floor-not-secret",  # noqa: S105 - nothing is signed
    USE_I18N=False,
)
django.setup(set_prefix=False)
application = WSGIHandler()
