"""On a live server: what a resource server's introspection says after each kind of session end.

Session-bound tokens die with their sign-in session, however it ends (Back-Channel Logout 1.0
§2.7, OIDC Core 1.0 §11): a resource server introspecting them (RFC 7662 §2.2) is told
``active: false`` and UserInfo refuses the access token (RFC 6750 §3.1). Offline tokens
(offline_access) from the same session live on, except after a password change (RFC 9700
§4.14.2) or a deactivation, which end offline access too.

The person signs in through the real pages, and the session is ended the way a person, staff or
the operator ends it: the logout endpoint, the account page's forms, the admin's user page and
session list, the ``expiresessions`` command, the password form, the admin's deactivation.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from accounts.models import LoginSession
from tests.conftest import PASSWORD, STAFF_PASSWORD, RegisteredClient
from tests.e2e.conftest import Browser, E2EClient, Form, forms_on, sign_in_for_tokens
from tests.oauth import Served, introspection, userinfo_status

NEW_PASSWORD = "a new long passphrase 42"


@dataclass
class Held:
    """What an app holds from one sign-in session: session-bound tokens and offline ones."""

    bound: dict
    offline: dict


@dataclass
class Scene:
    issuer: str
    metadata: dict
    app: E2EClient
    api: RegisteredClient  # the resource server, allowed to introspect
    http: Served
    browsers: list[Browser]

    def browser(self) -> Browser:
        browser = Browser(self.issuer)
        self.browsers.append(browser)
        return browser

    def hold(self, browser: Browser) -> Held:
        """Sign in (or reuse the browser's session) for session-bound tokens and offline ones."""
        bound = sign_in_for_tokens(browser, self.metadata, self.app, scope="openid email")
        offline = sign_in_for_tokens(browser, self.metadata, self.app, scope="openid email offline_access")
        assert bound["refresh_token"] and offline["refresh_token"]
        return Held(bound=bound, offline=offline)

    def staff(self) -> Browser:
        """A browser with staff signed in through the sign-in page, on the admin's index."""
        staff = self.browser()
        page = staff.log_in(staff.get(f"{self.issuer}/admin/"), username="root", password=STAFF_PASSWORD)
        assert page.status_code == 200 and urlsplit(page.url).path == "/admin/", page.url
        return staff

    def assert_alive(self, tokens: dict) -> None:
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert introspection(self.http, self.api, token)["active"] is True
        assert userinfo_status(self.http, tokens["access_token"]) == 200

    def assert_dead(self, tokens: dict) -> None:
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert introspection(self.http, self.api, token) == {"active": False}
        assert userinfo_status(self.http, tokens["access_token"]) == 401


@pytest.fixture
def scene(issuer, metadata, register, make_client, user, root) -> Iterator[Scene]:
    api = make_client(name="API", redirect_uris=[], grant_types=["client_credentials"])
    api.model.may_introspect = True
    api.model.save()
    scene = Scene(issuer, metadata, register(), api, Served(issuer), [])
    yield scene
    for browser in scene.browsers:
        browser.session.close()


def post_form(
    browser: Browser,
    page: requests.Response,
    form_matches: Callable[[str, Form], bool],
    data: dict[str, str | list[str]] | None = None,
) -> requests.Response:
    """Submit the one form on ``page`` that ``form_matches`` (hidden inputs and ``data`` included)."""
    found = [(path, form) for path, form in forms_on(page) if form_matches(path, form)]
    assert len(found) == 1, (found, page.text[:1000])
    path, form = found[0]
    response = browser.session.post(
        urljoin(page.url, path),
        data={**form.fields, **(data or {})},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )
    return browser.follow(response)


def account_page(scene: Scene, browser: Browser) -> requests.Response:
    page = browser.get(f"{scene.issuer}/accounts/")
    assert page.status_code == 200 and urlsplit(page.url).path == "/accounts/", page.url
    return page


def signed_out(scene: Scene, browser: Browser) -> bool:
    """Whether the account page sends ``browser`` to the sign-in page."""
    return urlsplit(browser.get(f"{scene.issuer}/accounts/").url).path == "/accounts/login/"


def user_page(scene: Scene, staff: Browser) -> requests.Response:
    """Find alice in the admin's user list and open her page."""
    found = staff.get(f"{scene.issuer}/admin/accounts/user/?{urlencode({'q': 'alice'})}")
    link = re.search(r'href="(/admin/accounts/user/\d+/change/)[^"]*">alice</a>', found.text)
    assert link, found.text[:1000]
    page = staff.get(urljoin(found.url, link.group(1)))
    assert page.status_code == 200
    return page


# --- ways one sign-in session ends; each leaves the session's offline tokens alive ---------


def rp_initiated_logout(scene: Scene, browser: Browser, held: Held) -> None:
    # OIDC RP-Initiated Logout 1.0 §2, with the ID token as hint: straight back to the app.
    query = {
        "id_token_hint": held.bound["id_token"],
        "post_logout_redirect_uri": scene.app.post_logout_redirect_uri,
    }
    response = browser.get(f"{scene.metadata['end_session_endpoint']}?{urlencode(query)}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(scene.app.post_logout_redirect_uri)


def sign_out(scene: Scene, browser: Browser, held: Held) -> None:
    post_form(browser, account_page(scene, browser), lambda path, _: path == "/accounts/logout/")


def staff_on_the_user_page(scene: Scene, browser: Browser, held: Held) -> None:
    staff = scene.staff()
    page = post_form(
        staff,
        user_page(scene, staff),
        lambda path, form: path.endswith("/act/session_end/") and form.fields.get("sid") != "all",
    )
    assert page.status_code == 200
    assert "Ended 1 session of alice" in page.text


def staff_in_the_session_list(scene: Scene, browser: Browser, held: Held) -> None:
    staff = scene.staff()
    page = staff.get(
        f"{scene.issuer}/admin/accounts/loginsession/?{urlencode({'q': 'alice', 'ended__isempty': '1'})}"
    )
    selected = re.findall(r'name="_selected_action" value="([^"]+)"', page.text)
    assert len(selected) == 1, page.text[:1000]
    done = post_form(
        staff,
        page,
        lambda path, form: path == "/admin/accounts/loginsession/" and "csrfmiddlewaretoken" in form.fields,
        {"action": "end_sessions", "_selected_action": selected},
    )
    assert done.status_code == 200
    assert "Ended 1 session." in done.text


def expiry(command: str) -> Callable[[Scene, Browser, Held], None]:
    def expire(scene: Scene, browser: Browser, held: Held) -> None:
        # The session's lifetime runs out (before its tokens would) ...
        LoginSession.objects.filter(user__username="alice").update(
            expires=timezone.now() - timedelta(seconds=1)
        )
        # ... and its refresh token dies with it at once, before the operator's job runs.
        assert introspection(scene.http, scene.api, held.bound["refresh_token"]) == {"active": False}
        call_command(command, stdout=StringIO())

    return expire


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(rp_initiated_logout, id="rp-initiated-logout"),
        pytest.param(sign_out, id="sign-out"),
        pytest.param(staff_on_the_user_page, id="staff-user-page"),
        pytest.param(staff_in_the_session_list, id="staff-session-list"),
        pytest.param(expiry("expiresessions"), id="expiresessions"),
        pytest.param(expiry("housekeeping"), id="housekeeping"),
    ],
)
def test_session_end_kills_session_tokens_keeps_offline(scene, end):
    browser = scene.browser()
    held = scene.hold(browser)
    scene.assert_alive(held.bound)
    end(scene, browser, held)
    assert signed_out(scene, browser)
    scene.assert_dead(held.bound)
    scene.assert_alive(held.offline)


# --- ending another session from the account page ------------------------------------------


def other_session(form: Form) -> bool:
    return form.fields.get("sid") not in (None, "others")


@pytest.mark.parametrize(
    ("button", "chosen"),
    [
        pytest.param(
            "Sign out of every other session",
            lambda form: form.fields.get("sid") == "others",
            id="everywhere-else",
        ),
        pytest.param("Sign out of this session", other_session, id="one-other-session"),
    ],
)
def test_signing_out_other_sessions_kills_their_tokens_keeps_offline(scene, button, chosen):
    here, elsewhere = scene.browser(), scene.browser()
    kept, ended = scene.hold(here), scene.hold(elsewhere)
    scene.assert_alive(ended.bound)
    page = account_page(scene, here)
    assert button in page.text
    post_form(here, page, lambda path, form: path == "/accounts/sessions/end/" and chosen(form))
    scene.assert_dead(ended.bound)
    scene.assert_alive(ended.offline)
    # The session the person acted from goes on, and its tokens with it.
    scene.assert_alive(kept.bound)
    assert signed_out(scene, elsewhere) and not signed_out(scene, here)


# --- ends that take offline access with them -----------------------------------------------


def test_password_change_kills_other_sessions_tokens_and_all_offline(scene):
    here, elsewhere = scene.browser(), scene.browser()
    kept, ended = scene.hold(here), scene.hold(elsewhere)
    scene.assert_alive(ended.bound)
    scene.assert_alive(kept.offline)
    form = here.get(f"{scene.issuer}/accounts/password/")
    changed = post_form(
        here,
        form,
        lambda path, form: path == "/accounts/password/" and "old_password" in form.fields,
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "keep_session": "on",
        },
    )
    assert changed.status_code == 200 and urlsplit(changed.url).path != "/accounts/password/", changed.url
    # Every other session ends, and its tokens with it.
    scene.assert_dead(ended.bound)
    # Offline access granted under the old password ends too (RFC 9700 §4.14.2), in every session.
    scene.assert_dead(ended.offline)
    scene.assert_dead(kept.offline)
    # The session the password was changed in goes on.
    scene.assert_alive(kept.bound)
    assert signed_out(scene, elsewhere) and not signed_out(scene, here)


def test_deactivation_in_the_admin_kills_every_token(scene):
    alice = scene.browser()
    held = scene.hold(alice)
    scene.assert_alive(held.offline)
    staff = scene.staff()
    done = post_form(
        staff,
        user_page(scene, staff),
        lambda path, _: path.endswith("/act/account_deactivate/"),
        {"confirm": "yes", "reason": "left"},
    )
    assert done.status_code == 200
    assert "Deactivated alice" in done.text
    assert signed_out(scene, alice)
    scene.assert_dead(held.bound)
    # A deactivated account keeps no token at all, offline ones included.
    scene.assert_dead(held.offline)
