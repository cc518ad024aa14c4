"""SCIM creates racing for one userName or group name against a served provider (RFC 7644 §3.3).

The provider runs as production runs it (``served_provider``: `manage.py serve`, two worker
processes, a database of its own), so each request has its own process and database connection
on either database: PostgreSQL's unique constraints decide, or SQLite's write lock (WAL,
IMMEDIATE transactions). Either way a provisioning client must see one 201 and every other
request 409 ``uniqueness`` (§3.12), never a 500, and one resource afterwards.
"""

import re
from collections.abc import Iterator

import pytest
import requests

from tests.cluster import ServedProvider, manage, served_provider
from tests.e2e.conftest import race

RACERS = 8
SCIM_JSON = "application/scim+json"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedProvider]:
    """One served provider for the module (a server start costs seconds); stopped by PID after it."""
    with served_provider(tmp_path_factory.mktemp("scim-races")) as provider:
        yield provider


def scim_token(served: ServedProvider, name: str) -> str:
    """A provisioning client's bearer token, made as an operator makes one (`manage.py scimtoken`)."""
    printed = manage(served.env, "scimtoken", name)
    found = re.search(r"^Token:\s+(\S+)$", printed, re.MULTILINE)
    assert found, printed
    return found.group(1)


def scim(
    served: ServedProvider, token: str, method: str, path: str, body: dict | None = None
) -> requests.Response:
    return requests.request(
        method,
        f"{served.url}/scim/v2/{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
        timeout=30,
    )


def assert_one_created(responses: list[requests.Response]) -> None:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text[:200] for r in responses]
    for response in responses:
        assert response.headers["Content-Type"] == SCIM_JSON
        if response.status_code == 409:
            assert response.json()["scimType"] == "uniqueness" and response.json()["status"] == "409"


def test_race_concurrent_creates_of_one_user_name_give_one_account(served):
    token = scim_token(served, "Entra")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@example.com",
        "emails": [{"value": "grace@example.com", "primary": True}],
    }
    responses = race(RACERS, lambda: scim(served, token, "POST", "Users", body))
    assert_one_created(responses)

    found = scim(served, token, "GET", 'Users?filter=userName eq "grace@example.com"').json()
    assert found["totalResults"] == 1, found
    created = next(r.json() for r in responses if r.status_code == 201)
    assert found["Resources"][0]["id"] == created["id"]


def test_race_concurrent_creates_of_one_group_give_one_group(served):
    token = scim_token(served, "Okta")
    responses = race(RACERS, lambda: scim(served, token, "POST", "Groups", {"displayName": "Finance"}))
    assert_one_created(responses)

    found = scim(served, token, "GET", 'Groups?filter=displayName eq "Finance"').json()
    assert found["totalResults"] == 1, found
