"""``/.well-known/openid-configuration`` (OIDC Discovery 1.0 §4)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import ConnectDiscoveryInfoView

from .. import metadata
from ..cors import public_preflight
from .cacheable import cacheable_json


class DiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        document = metadata.document()
        return cacheable_json(
            request, document.body, document.etag, settings.PORCHLIGHT["METADATA_CACHE_SECONDS"]
        )

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return public_preflight()
