"""SCIM creates racing for one userName or group name against the live server (RFC 7644 §3.3).

Each request is its own HTTP connection on its own server thread and database connection; on
PostgreSQL the unique constraints decide: one 201, every other request 409 ``uniqueness``.
"""

import requests

from accounts.models import User
from scim.tokens import provisioning_client_create
from tests.conftest import concurrent_database
from tests.e2e.conftest import race

pytestmark = concurrent_database

RACERS = 8
SCIM_JSON = "application/scim+json"


def scim_post(issuer: str, token: str, path: str, body: dict) -> requests.Response:
    return requests.post(
        f"{issuer}/scim/v2/{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
        timeout=30,
    )


def test_race_concurrent_creates_of_one_user_name_give_one_account(issuer):
    _client, token = provisioning_client_create(name="Entra")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@example.com",
        "emails": [{"value": "grace@example.com", "primary": True}],
    }
    responses = race(RACERS, lambda: scim_post(issuer, token, "Users", body))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text[:200] for r in responses]
    for response in responses:
        assert response.headers["Content-Type"] == SCIM_JSON
        if response.status_code == 409:
            assert response.json()["scimType"] == "uniqueness" and response.json()["status"] == "409"
    assert User.objects.filter(username__iexact="grace@example.com").count() == 1


def test_race_concurrent_creates_of_one_group_give_one_group(issuer):
    _client, token = provisioning_client_create(name="Okta")
    responses = race(RACERS, lambda: scim_post(issuer, token, "Groups", {"displayName": "Finance"}))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text[:200] for r in responses]
    assert {r.json()["scimType"] for r in responses if r.status_code == 409} == {"uniqueness"}
