"""Absolute links in the mail Porchlight sends."""

from urllib.parse import urlsplit

from django.conf import settings


def issuer_link(path: str) -> str:
    """Return ``path`` (from ``reverse()``) as an absolute link at the issuer's origin.

    Links point at the issuer, the address people know, whatever host the request used; only its
    origin is taken, since ``reverse()`` already carries any script prefix.
    """
    issuer = urlsplit(settings.ISSUER)
    return f"{issuer.scheme}://{issuer.netloc}{path}"
