"""In Chromium: the account page's session list, signing out another session, and the
front-channel logout frames on the signed-out page (OIDC Front-Channel Logout 1.0 §4)."""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from oidc_provider.services import client_create
from tests.e2e.conftest import (
    POST_LOGOUT_REDIRECT_URI,
    REDIRECT_URI,
    RP_ORIGIN,
    Browser,
    E2EClient,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    sign_in_for_tokens,
)

FRONTCHANNEL_URI = f"{RP_ORIGIN}/frontchannel-logout"


@pytest.fixture
def app(issuer, user) -> E2EClient:
    client, secret = client_create(
        name="Frame app",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT_REDIRECT_URI],
        skip_consent=True,
        logout={"frontchannel_logout_uri": FRONTCHANNEL_URI, "frontchannel_logout_session_required": True},
    )
    return E2EClient(client.client_id, secret, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI)


@pytest.fixture
def frames_loaded() -> list[str]:
    return []


@pytest.fixture
def page(issuer, user, app, frames_loaded) -> Iterator[Page]:
    with chromium_context() as context:

        def frontchannel(route: Route) -> None:
            frames_loaded.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<p>signed out of the app</p>")

        context.route(f"{FRONTCHANNEL_URI}**", frontchannel)
        yield context.new_page()


def test_browser_lists_sessions_signs_out_another_and_loads_frontchannel_frames(
    page, issuer, metadata, app, frames_loaded
):
    # Another device, signed in to the app too.
    phone = Browser(issuer)
    sign_in_for_tokens(phone, metadata, app, scope="openid")

    page.goto(authorization_request(f"{issuer}/o/authorize/", app, scope="openid").url)
    chromium_sign_in(page)
    page.wait_for_url(f"{RP_ORIGIN}/**")
    page.goto(f"{issuer}/accounts/")
    sessions = page.get_by_role("region", name="Where you're signed in")
    expect(sessions.get_by_role("listitem")).to_have_count(2)
    expect(sessions.get_by_text("(this browser)")).to_be_visible()
    expect(sessions.get_by_text("Apps: Frame app")).to_have_count(2)

    sessions.get_by_role("button", name="Sign out of this session").click()
    expect(page.get_by_text("Signed out of 1 other session.")).to_be_visible()
    expect(sessions.get_by_role("listitem")).to_have_count(1)
    assert urlsplit(phone.get(f"{issuer}/accounts/").url).path == "/accounts/login/"

    # Signing out here loads the app's front-channel logout page, with iss and sid.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    expect(page.locator(f'iframe[src^="{FRONTCHANNEL_URI}"]')).to_have_count(1)
    for _ in range(50):  # the frame's request arrives a moment after the page
        if frames_loaded:
            break
        page.wait_for_timeout(100)
    assert len(frames_loaded) == 1
    query = parse_qs(urlsplit(frames_loaded[0]).query)
    assert query["iss"] == [issuer] and query["sid"][0]
