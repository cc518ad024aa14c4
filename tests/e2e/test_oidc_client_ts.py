"""oidc-client-ts, a single-page app in Chromium, against a live Porchlight.

The app is served from its own loopback origin (``http://127.0.0.1:<port>``), registered as a
public client with that origin, so every call it makes to the provider is cross-origin: discovery,
the token endpoint, UserInfo (with its preflight) and revocation. The test asserts what the page
itself observes (window variables its script sets), as the app's developer would see it.
"""

import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page

from oidc_provider.models import GrantType
from oidc_provider.services import client_create
from tests.e2e.conftest import chromium_context, chromium_sign_in

LIBRARY = Path(__file__).parent / "node" / "node_modules" / "oidc-client-ts" / "dist" / "browser"

# The app: one script shared by its pages, as a real SPA's bundle would be.
APP_JS = """
const config = JSON.parse(document.getElementById("config").textContent);
const origin = window.location.origin;
window.mgr = new oidc.UserManager({
  authority: config.issuer,
  client_id: config.client_id,
  redirect_uri: origin + "/callback.html",
  post_logout_redirect_uri: origin + "/logged-out.html",
  response_type: "code",
  scope: "openid profile",
  loadUserInfo: true,
  automaticSilentRenew: false,
  userStore: new oidc.WebStorageStateStore({ store: window.localStorage }),
});
// What the app saw of a failure: the OAuth error it could read, or that it could read none.
window.describe = (error) => ({
  name: error && error.name,
  error: error && error.error,
  message: String(error && error.message),
});
window.outcome = null;
async function run(step) {
  try {
    window.outcome = { ok: true, value: await step() };
  } catch (error) {
    window.outcome = { ok: false, value: window.describe(error) };
  }
}
window.app = {
  login: () => window.mgr.signinRedirect(),
  user: () => run(async () => {
    const user = await window.mgr.getUser();
    return user && { sub: user.profile.sub, name: user.profile.name, access_token: user.access_token,
                     refresh_token: user.refresh_token, expired: user.expired };
  }),
  renew: () => run(async () => {
    const user = await window.mgr.signinSilent();
    return { access_token: user.access_token, refresh_token: user.refresh_token };
  }),
  revoke: () => run(async () => {
    await window.mgr.revokeTokens();
    const user = await window.mgr.getUser();
    return { refresh_token: user.refresh_token };
  }),
  keep: () => run(async () => {
    // Kept aside: signoutRedirect removes the user, and the test renews with it afterwards.
    localStorage.setItem("kept-user", (await window.mgr.getUser()).toStorageString());
    return true;
  }),
  logout: () => window.mgr.signoutRedirect(),
  renewKept: () => run(async () => {
    await window.mgr.storeUser(oidc.User.fromStorageString(localStorage.getItem("kept-user")));
    return await window.mgr.signinSilent();
  }),
};
if (window.location.pathname === "/callback.html") {
  run(async () => {
    const user = await window.mgr.signinRedirectCallback();
    return { sub: user.profile.sub, name: user.profile.name };
  });
}
"""

PAGE = """<!doctype html>
<html><head><title>SPA</title>
<script type="application/json" id="config">{config}</script>
<script src="/oidc-client-ts.min.js"></script>
<script src="/app.js" defer></script>
</head><body><p>{body}</p></body></html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def spa_server(tmp_path) -> Iterator[str]:
    """Serve the app's static files from a loopback port; return its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def spa(issuer, user, spa_server, tmp_path) -> dict:
    """Register the app as a public client with its loopback origin, and write its pages."""
    client, _ = client_create(
        name="Single-page app",
        redirect_uris=[f"{spa_server}/callback.html"],
        post_logout_redirect_uris=[f"{spa_server}/logged-out.html"],
        public=True,
        grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        allowed_origins=[spa_server],
    )
    config = json.dumps({"issuer": issuer, "client_id": client.client_id})
    shutil.copy(LIBRARY / "oidc-client-ts.min.js", tmp_path / "oidc-client-ts.min.js")
    (tmp_path / "app.js").write_text(APP_JS)
    for name, body in (("index", "Home"), ("callback", "Signing in"), ("logged-out", "Signed out")):
        (tmp_path / f"{name}.html").write_text(PAGE.format(config=config, body=body))
    return {"origin": spa_server, "client_id": client.client_id}


@pytest.fixture
def page(spa) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def outcome(page: Page, call: str) -> dict:
    """Run ``window.app.<call>()`` and return what the page observed."""
    page.evaluate("window.outcome = null")
    page.evaluate(f"() => {{ window.app.{call}(); }}")
    page.wait_for_function("window.outcome !== null", timeout=15_000)
    return page.evaluate("window.outcome")


def sign_in_through_app(page: Page, spa: dict, *, first_time: bool) -> dict:
    page.goto(f"{spa['origin']}/index.html")
    page.wait_for_function("window.app !== undefined")
    page.evaluate("() => { window.app.login(); }")
    if first_time:
        chromium_sign_in(page)
        page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{spa['origin']}/callback.html?**")
    page.wait_for_function("window.outcome !== null", timeout=15_000)
    return page.evaluate("window.outcome")


def test_oidc_client_ts_sign_in_renew_revoke_sign_out(page, spa, metadata):
    # signinRedirect → sign in → consent → signinRedirectCallback (token endpoint, UserInfo).
    signed_in = sign_in_through_app(page, spa, first_time=True)
    assert signed_in["ok"], signed_in
    assert signed_in["value"]["sub"]
    # loadUserInfo: the profile claims came from UserInfo, read cross-origin.
    assert signed_in["value"]["name"]

    user = outcome(page, "user")
    assert user["ok"] and user["value"]["sub"] == signed_in["value"]["sub"]
    assert user["value"]["refresh_token"] and not user["value"]["expired"]

    # Silent renew by refresh token: a new access token, the refresh token rotated.
    renewed = outcome(page, "renew")
    assert renewed["ok"], renewed
    assert renewed["value"]["access_token"] != user["value"]["access_token"]
    assert renewed["value"]["refresh_token"] != user["value"]["refresh_token"]

    # revokeTokens(): the app reads the revocation endpoint's answer, and the token is dead.
    revoked = outcome(page, "revoke")
    assert revoked["ok"], revoked
    assert revoked["value"]["refresh_token"] is None
    refused = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": renewed["value"]["refresh_token"],
            "client_id": spa["client_id"],
        },
        timeout=10,
    )
    assert refused.json()["error"] == "invalid_grant"

    # Signed in to Porchlight still: the app signs in again without a form, and keeps the user.
    again = sign_in_through_app(page, spa, first_time=False)
    assert again["ok"] and again["value"]["sub"] == signed_in["value"]["sub"]
    assert outcome(page, "keep")["ok"]

    # signoutRedirect with the ID token of this session: signed out, back at the app.
    page.evaluate("() => { window.app.logout(); }")
    page.wait_for_url(f"{spa['origin']}/logged-out.html**")
    page.wait_for_function("window.app !== undefined")

    # The session ended, and its refresh tokens with it: the app reads invalid_grant, not a
    # network error, so it can send the user to sign in again.
    expired = outcome(page, "renewKept")
    assert not expired["ok"]
    assert expired["value"]["error"] == "invalid_grant", expired
