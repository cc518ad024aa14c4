"""The JSON Web Key Set (RFC 7517 §5): every published signing key, public parts only."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import JwksInfoView

from .. import keys
from ..cors import public_preflight
from .cacheable import Freshness, cacheable_json


class JwksView(JwksInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key_set = keys.key_set()
        # The same answer until this process reloads the key set (keys.key_set's bound).
        freshness = Freshness(key_set.loaded_at + settings.PORCHLIGHT["METADATA_CACHE_SECONDS"], key_set)
        return cacheable_json(
            request,
            key_set.jwks_body,
            key_set.etag,
            settings.PORCHLIGHT["JWKS_MAX_AGE"],
            freshness=freshness,
        )

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return public_preflight()
