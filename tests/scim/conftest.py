"""A SCIM client over Django's test client: a provisioning client's token, JSON in and out."""

import json
from typing import Any

import pytest
from django.test import Client

from scim.tokens import provisioning_client_create

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """Sends what a provisioning client sends: a bearer token and application/scim+json bodies."""

    def __init__(self, token: str):
        self.token = token
        self.http = Client()

    def request(self, method: str, path: str, body: Any = None, *, raw: str | bytes | None = None, **headers):
        headers.setdefault("authorization", f"Bearer {self.token}")
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.http.generic(method, BASE + path, data, content_type=SCIM_JSON, headers=headers)

    def get(self, path: str, **params):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return self.request("GET", path + (f"?{query}" if query else ""))

    def post(self, path: str, body: Any = None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, *operations: dict, **kwargs):
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def scim(db) -> Scim:
    """A SCIM client holding the token of a provisioning client named "Entra"."""
    _client, token = provisioning_client_create(name="Entra")
    return Scim(token)


def error_of(response, status: int, scim_type: str | None = None) -> dict:
    """Return the RFC 7644 §3.12 error body of ``response``, checking its status and scimType."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == SCIM_JSON
    body = json.loads(response.content)
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def body_of(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == SCIM_JSON
    return json.loads(response.content)
