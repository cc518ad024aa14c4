"""The device grant (RFC 8628) against a live server: a person in Chromium, devices polling over HTTP.

The person opens the verification page, signs in, types (or finds pre-filled) the code and
answers the question; the device polls the token endpoint like any RFC 8628 client. Polls that
race after approval must yield exactly one token set (run on PostgreSQL too: tests/pg_cluster.py).
"""

import threading
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page

from oidc_provider.models import AccessToken, GrantType
from oidc_provider.services import client_create
from tests.conftest import concurrent_database
from tests.e2e.conftest import Browser, E2EClient, chromium_context, chromium_sign_in, verify_id_token

DEVICE_GRANT = GrantType.DEVICE_CODE.value
CONCURRENT_POLLS = 8


@pytest.fixture
def tv(issuer) -> E2EClient:
    """A public device app registered for the device grant (no redirect URIs: it has no browser)."""
    client, _ = client_create(
        name="Living-room TV",
        redirect_uris=[],
        public=True,
        grant_types=[DEVICE_GRANT, GrantType.REFRESH_TOKEN],
    )
    return E2EClient(client.client_id, None, "", "")


@pytest.fixture
def page(issuer, user, tv) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def device_start(metadata: dict, client: E2EClient, scope: str = "openid profile offline_access") -> dict:
    response = requests.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": client.client_id, "scope": scope},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def device_poll(metadata: dict, client: E2EClient, device_code: str) -> requests.Response:
    return requests.post(
        metadata["token_endpoint"],
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client.client_id},
        timeout=30,
    )


def test_browser_device_sign_in_code_entry_and_allow(page, issuer, metadata, tv, tmp_path):
    device = device_start(metadata, tv)
    assert device_poll(metadata, tv, device["device_code"]).json()["error"] == "authorization_pending"

    page.goto(device["verification_uri"])
    assert page.url.startswith(f"{issuer}/accounts/login/")
    chromium_sign_in(page)
    page.wait_for_url(f"{issuer}/device/")
    assert page.get_by_role("heading", level=1).inner_text() == "Connect a device"

    code = page.get_by_label("Code", exact=True)
    code.fill("BBBB-BBBB" if device["user_code"] != "BBBB-BBBB" else "CCCC-CCCC")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").inner_text().startswith("That code is not right")

    # People type codes loosely: lower case, no dash.
    page.get_by_label("Code", exact=True).fill(device["user_code"].replace("-", "").lower())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{issuer}/device/confirm/?**")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "Living-room TV wants to use your Porchlight account on a device"
    assert page.locator("#user-code").inner_text() == device["user_code"]
    assert page.get_by_role("note").inner_text().startswith("Only allow this if you started")
    shared = [item.get_attribute("data-scope") for item in page.locator("ul.scopes li").all()]
    assert shared == ["openid", "profile", "offline_access"]
    page.screenshot(path=tmp_path / "device-confirm.png", full_page=True)

    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="Device connected").wait_for()
    assert "Go back to your device" in page.get_by_role("status").inner_text()

    response = device_poll(metadata, tv, device["device_code"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    claims = verify_id_token(
        tokens["id_token"],
        metadata=metadata,
        client_id=tv.client_id,
        nonce=None,
        access_token=tokens["access_token"],
    )
    assert claims["amr"] == ["pwd"] and claims["sid"]
    assert tokens["refresh_token"]


def test_browser_device_prefilled_code_still_asks_and_deny_stops_the_device(page, issuer, metadata, tv):
    device = device_start(metadata, tv, scope="openid email")

    page.goto(device["verification_uri_complete"])
    chromium_sign_in(page)
    # The link fills the code in but approves nothing: the person still sees the question.
    assert page.get_by_label("Code", exact=True).input_value() == device["user_code"]
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{issuer}/device/confirm/?**")
    shared = [item.get_attribute("data-scope") for item in page.locator("ul.scopes li").all()]
    assert shared == ["openid", "email"]

    page.get_by_role("button", name="Deny").click()
    page.get_by_role("heading", name="Device not connected").wait_for()

    response = device_poll(metadata, tv, device["device_code"])
    assert response.status_code == 400 and response.json()["error"] == "access_denied"


@concurrent_database
def test_device_concurrent_polls_after_approval_yield_one_token_set(issuer, metadata, tv, user):
    device = device_start(metadata, tv)
    # The person approves through the pages, over HTTP like everything else here.
    person = Browser(issuer)
    page = person.log_in(person.get(device["verification_uri_complete"]))
    question = person.submit(page, "/device/", {})
    done = person.submit(question, "/device/confirm/", {"allow": "1"})
    assert "Device connected" in done.text, done.text[:500]

    responses: list = [None] * CONCURRENT_POLLS
    barrier = threading.Barrier(CONCURRENT_POLLS)

    def poll(index: int) -> None:
        barrier.wait()
        responses[index] = device_poll(metadata, tv, device["device_code"])

    threads = [threading.Thread(target=poll, args=(index,)) for index in range(CONCURRENT_POLLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * (CONCURRENT_POLLS - 1), [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    assert AccessToken.objects.filter(application__client_id=tv.client_id).count() == 1
