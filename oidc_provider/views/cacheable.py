"""Responses for public, cacheable JSON documents (discovery, JWKS)."""

from django.http import HttpRequest, HttpResponse

from ..cors import public_document


def cacheable_json(request: HttpRequest, body: bytes, etag: str, max_age: int) -> HttpResponse:
    """Return ``body`` with an ETag, honouring If-None-Match with 304 (RFC 9110 §13.1.2)."""
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={max_age}"
    return public_document(response)
