"""What an RP sends to the provider's protocol endpoints, and what it reads back.

Each helper takes ``http``: Django's test client, or ``Served`` for a provider on a real socket
(a live server, gunicorn), which is spoken to the same way. A confidential client authenticates
with HTTP Basic (RFC 6749 §2.3.1); a public one names itself with ``client_id``.
"""

import json

import requests

from tests.conftest import basic_auth

TOKEN = "/o/token/"
INTROSPECT = "/o/introspect/"
USERINFO = "/o/userinfo/"
REGISTER = "/o/register/"


class Served:
    """A provider served at ``base``, with the calls of Django's test client that these helpers use."""

    def __init__(self, base: str, *, timeout: float = 10) -> None:
        self.base = base
        self.timeout = timeout

    def post(self, path: str, data=None, *, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(
            self.base + path, data=data, headers=headers, timeout=self.timeout, allow_redirects=False
        )

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(self.base + path, headers=headers, timeout=self.timeout, allow_redirects=False)


def _as_client(client, data: dict) -> tuple[dict, dict[str, str]]:
    """Return ``data`` and headers that authenticate ``client`` (or identify a public one)."""
    if client.client_secret:
        return data, {"Authorization": basic_auth(client.client_id, client.client_secret)}
    return {**data, "client_id": client.client_id}, {}


def refresh(http, client, refresh_token: str, **extra: str):
    """Use ``refresh_token`` at the token endpoint (RFC 6749 §6); return the response."""
    data, headers = _as_client(
        client, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    )
    return http.post(TOKEN, data, headers=headers)


def refresh_status(http, client, refresh_token: str) -> int:
    """Return the status a refresh with ``refresh_token`` gets: 200, or 400 once it is dead."""
    return refresh(http, client, refresh_token).status_code


def introspect(http, caller, token: str, **extra: str):
    """Ask the introspection endpoint about ``token`` as ``caller`` (RFC 7662 §2.1); return the response."""
    data, headers = _as_client(caller, {"token": token, **extra})
    return http.post(INTROSPECT, data, headers=headers)


def introspection(http, caller, token: str) -> dict:
    """Return what introspection says about ``token`` (RFC 7662 §2.2), after checking it answered."""
    response = introspect(http, caller, token)
    assert response.status_code == 200, response.content
    return response.json()


def userinfo_status(http, access_token: str) -> int:
    """Return the status UserInfo gives ``access_token``: 200, or 401 once it is dead."""
    return http.get(USERINFO, headers={"Authorization": f"Bearer {access_token}"}).status_code


def register(http, metadata, *, token: str | None = None, content_type: str = "application/json"):
    """Send a dynamic registration request (RFC 7591 §3.1); ``token`` is the initial access token."""
    body = metadata if isinstance(metadata, str | bytes) else json.dumps(metadata)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post(REGISTER, body, content_type=content_type, headers=headers)
