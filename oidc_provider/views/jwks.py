"""The JSON Web Key Set (RFC 7517 §5): every published signing key, public parts only."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import JwksInfoView

from .. import keys
from ..cors import public_preflight
from .cacheable import cacheable_json


class JwksView(JwksInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key_set = keys.key_set()
        return cacheable_json(request, key_set.jwks_body, key_set.etag, settings.PORCHLIGHT["JWKS_MAX_AGE"])

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return public_preflight()
