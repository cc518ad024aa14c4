"""Helpers the upstream tests share: a provider row, and a browser's round trip through an upstream."""

from urllib.parse import urlencode, urlsplit

import requests
from django.test import Client as BrowserClient

from accounts import encryption
from upstream.models import UpstreamProvider


def provider_create(*, slug: str = "corp", kind: str = "oidc", secret: str, **fields) -> UpstreamProvider:
    """Save a provider as the admin does, its secret encrypted at rest."""
    provider = UpstreamProvider(slug=slug, label=fields.pop("label", "Corp"), kind=kind, **fields)
    provider.client_secret_encrypted = encryption.encrypt(secret.encode())
    provider.full_clean()
    provider.save()
    return provider


def start(browser: BrowserClient, slug: str, next_url: str = "") -> str:
    """Press the "Sign in with …" button; return where it sends the browser (the upstream)."""
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    response = browser.get(f"/upstream/{slug}/start/{query}")
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def callback_path(location: str) -> str:
    """Return the path and query of the upstream's redirect back to Porchlight."""
    parts = urlsplit(location)
    assert parts.path.startswith("/upstream/"), location
    return f"{parts.path}?{parts.query}"


def round_trip(browser: BrowserClient, slug: str, next_url: str = ""):
    """Start at Porchlight, let the (automatic) upstream answer, and return Porchlight's callback response."""
    upstream = requests.get(start(browser, slug, next_url), allow_redirects=False, timeout=10)
    assert upstream.status_code == 302, upstream.text[:500]
    return browser.get(callback_path(upstream.headers["Location"]))


def totp_code(key: bytes, *, steps_ahead: int = 0) -> str:
    """Return the code an authenticator app holding ``key`` shows (RFC 6238, 30 s, 6 digits)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def auth_context(browser: BrowserClient) -> dict:
    """Return the sign-in the browser's session holds (accounts/authentication.py), or {}."""
    from accounts.authentication import SESSION_KEY

    return dict(browser.session.get(SESSION_KEY) or {})
