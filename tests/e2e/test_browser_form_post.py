"""response_mode=form_post in a real browser, JavaScript on and off (OAuth 2.0 Form Post Response Mode)."""

import secrets
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from playwright.sync_api import Route

from tests.conftest import pkce_pair
from tests.e2e.conftest import RP_ORIGIN, chromium_context, chromium_sign_in


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_browser_form_post_delivers_the_code_to_the_rp(javascript, issuer, metadata, rp_client, user):
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    query = {
        "response_type": "code",
        "response_mode": "form_post",
        "client_id": rp_client.client_id,
        "redirect_uri": rp_client.redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    received: list[tuple[str, str]] = []

    def rp_callback(route: Route) -> None:
        received.append((route.request.method, route.request.post_data or ""))
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>RP</title><p>Back")

    with chromium_context(javascript=javascript) as context:
        context.route(f"{RP_ORIGIN}/**", rp_callback)
        page = context.new_page()
        page.goto(f"{metadata['authorization_endpoint']}?{urlencode(query)}")
        chromium_sign_in(page)
        page.get_by_role("button", name="Allow").click()
        if not javascript:
            # Without JavaScript the page waits with a button, and says why.
            page.get_by_role("button", name="Continue to the app").wait_for()
            assert "JavaScript is off" in page.content()
            page.get_by_role("button", name="Continue to the app").click()
        page.wait_for_url(rp_client.redirect_uri)

    method, body = received[-1]
    assert method == "POST"
    fields = {key: values[0] for key, values in parse_qs(body).items()}
    assert fields["state"] == state and fields["iss"] == issuer
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": fields["code"],
            "redirect_uri": rp_client.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    )
    assert tokens.status_code == 200 and tokens.json()["id_token"]
