"""Responses for public, cacheable JSON documents (discovery, JWKS)."""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from ..cors import public_document
from ..keys import KeySet

# The attribute a published document's response carries (a ``Freshness``). ops/documents.py, in
# front of Django, answers the same request from the response's bytes while it holds.
FRESHNESS = "porchlight_freshness"


@dataclass(frozen=True)
class Freshness:
    """How long this process would give the same answer to the same request."""

    # ``time.monotonic()`` until which it would (the key set's reload, a recheck).
    until: float
    # The key set the answer was made from: a rotation in this process drops it (keys.clear_cache).
    key_set: KeySet


def cacheable_json(
    request: HttpRequest, body: bytes, etag: str, max_age: int, *, freshness: Freshness
) -> HttpResponse:
    """Return ``body`` with an ETag, honouring If-None-Match with 304 (RFC 9110 §13.1.2)."""
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={max_age}"
    setattr(response, FRESHNESS, freshness)
    return public_document(response)
