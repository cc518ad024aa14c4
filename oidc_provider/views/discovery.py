"""``/.well-known/openid-configuration`` (OIDC Discovery 1.0 §4) and RFC 8414 §3's path."""

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import ConnectDiscoveryInfoView

from .. import keys, metadata
from ..cors import public_preflight
from .cacheable import Freshness, cacheable_json

# The document also lists the custom claims and identity scopes and the response types some
# client turned on, each cached in this process for a few seconds (custom_claims.py,
# response_types.py): an answer is reused for at most this long before the view is asked again.
RECHECK_SECONDS = 1.0


class DiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ttl = settings.PORCHLIGHT["METADATA_CACHE_SECONDS"]
        # The key set before the document: if it is reloaded in between, the document is the
        # newer one and the bound below the earlier, never the other way round.
        key_set = keys.key_set()
        document = metadata.document()
        freshness = Freshness(min(key_set.loaded_at + ttl, time.monotonic() + RECHECK_SECONDS), key_set)
        return cacheable_json(request, document.body, document.etag, ttl, freshness=freshness)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return public_preflight()
