"""response_mode=form_post in a real browser, JavaScript on and off (OAuth 2.0 Form Post Response Mode)."""

from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Route

from tests.e2e.conftest import (
    RP_ORIGIN,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    redeem_code,
)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_browser_form_post_delivers_the_code_to_the_rp(javascript, issuer, metadata, rp_client, user):
    request = authorization_request(
        metadata["authorization_endpoint"], rp_client, scope="openid", response_mode="form_post"
    )
    received: list[tuple[str, str]] = []

    def rp_callback(route: Route) -> None:
        received.append((route.request.method, route.request.post_data or ""))
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>RP</title><p>Back")

    with chromium_context(javascript=javascript) as context:
        context.route(f"{RP_ORIGIN}/**", rp_callback)
        page = context.new_page()
        page.goto(request.url)
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
    assert fields["state"] == request.state and fields["iss"] == issuer
    assert redeem_code(metadata["token_endpoint"], rp_client, fields["code"], request.verifier)["id_token"]
