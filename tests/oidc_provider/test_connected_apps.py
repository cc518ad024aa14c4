"""Connected apps: a user sees the apps they allowed and revokes them (docs/design.md, gap 10)."""

import re

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext

from accounts.models import LoginSession
from oidc_provider.models import AccessToken, Consent, LogoutDelivery, RefreshToken
from oidc_provider.standard_claims import SCOPE_DESCRIPTIONS
from tests.conftest import PASSWORD, authorize, basic_auth, exchange, query_of

APPS = "/account/apps/"
MALFORMED = [{}, {"consent": ""}, {"consent": "abc"}, {"consent": "-1"}, {"consent": "١"}]


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


def sign_in(username: str) -> BrowserClient:
    browser = BrowserClient()
    assert browser.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def refresh(http, rp, refresh_token: str):
    return http.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )


def userinfo(http, access_token: str):
    return http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def revoke_page_of(browser, page, app_name: str):
    """Follow ``app_name``'s Revoke link on the Connected apps ``page`` to its confirmation page."""
    section = page.content.decode().split(f"<h2>{app_name}</h2>")[1].split("<h2>")[0]
    link = re.search(r'href="(/account/apps/\d+/revoke/)"', section)
    assert link, section
    return browser.get(link.group(1))


def consent_id_on_page(page, app_name: str) -> str:
    """Return the consent id the confirmation page's Revoke button for ``app_name`` posts."""
    confirm = revoke_page_of(page.client, page, app_name)
    assert f"<h1>Revoke access for {app_name}?</h1>" in confirm.content.decode()
    consent = re.search(r'name="consent" value="(\d+)"', confirm.content.decode())
    assert consent, confirm.content.decode()
    return consent.group(1)


def app_names(page) -> list[str]:
    return re.findall(r"<h2>([^<]*)</h2>", page.content.decode())


# --- the page ----------------------------------------------------------------------------------


def test_connected_apps_requires_login(browser):
    response = browser.get(APPS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/account/apps/")


def test_connected_apps_lists_each_app_with_scopes_in_plain_words(rp, make_client, logged_in):
    authorize(logged_in, rp, scope="openid email offline_access")
    other = make_client(name="Calendar")
    authorize(logged_in, other, scope="openid profile")

    page = logged_in.get(APPS)
    assert page.status_code == 200
    assert app_names(page) == ["Calendar", "Test app"]
    content = page.content.decode()
    test_app = content.split("<h2>Test app</h2>")[1]
    for scope in ("openid", "email", "offline_access"):
        assert f'data-scope="{scope}">{SCOPE_DESCRIPTIONS[scope]}<' in test_app
    assert SCOPE_DESCRIPTIONS["profile"] not in test_app
    # First and last granted dates, machine-readable too.
    assert "First allowed <time datetime=" in test_app
    assert "last allowed <time datetime=" in test_app


def test_connected_apps_shows_empty_state(logged_in):
    page = logged_in.get(APPS)
    assert page.status_code == 200
    assert b"You have not allowed any apps" in page.content
    assert app_names(page) == []


def test_connected_apps_lists_only_own_consents(rp, logged_in, bob):
    bob_browser = sign_in("bob")
    authorize(bob_browser, rp, scope="openid")
    assert app_names(logged_in.get(APPS)) == []
    assert app_names(bob_browser.get(APPS)) == ["Test app"]


def test_connected_apps_page_is_accessible_without_javascript(rp, logged_in):
    authorize(logged_in, rp, scope="openid email")
    content = logged_in.get(APPS).content.decode()
    assert content.count("<h1>") == 1 and "<h1>Connected apps</h1>" in content
    assert "<script" not in content
    # A plain link to a confirmation page named for its app ...
    link = re.search(r'<a class="button" href="([^"]+)" aria-label="Revoke access for Test app">', content)
    confirm = logged_in.get(link.group(1)).content.decode()
    # ... which answers with a plain form post with CSRF protection.
    assert "<script" not in confirm
    assert '<form method="post" action="/account/apps/">' in confirm
    assert 'name="csrfmiddlewaretoken"' in confirm
    assert '<button type="submit" class="primary">Revoke access for Test app</button>' in confirm


def test_connected_apps_linked_from_account_home_and_header(logged_in):
    home = logged_in.get("/accounts/").content.decode()
    assert home.count(f'href="{APPS}"') == 2  # the header nav and the account page


# --- revoking ----------------------------------------------------------------------------------


def test_connected_apps_revoke_removes_app_and_its_tokens(rp, logged_in, client):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    assert userinfo(client, tokens["access_token"]).status_code == 200

    page = logged_in.get(APPS)
    response = logged_in.post(APPS, {"consent": consent_id_on_page(page, "Test app")}, follow=True)
    assert response.redirect_chain == [(APPS, 302)]
    assert "Test app can no longer use your account" in response.content.decode()
    assert app_names(response) == []

    # RFC 6749 §5.2: a revoked refresh token is an invalid grant.
    refused = refresh(client, rp, tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # RFC 6750 §3.1: a revoked access token is an invalid token.
    rejected = userinfo(client, tokens["access_token"])
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected["WWW-Authenticate"]


def test_connected_apps_revoke_means_consent_is_asked_again(rp, logged_in):
    authorize(logged_in, rp, scope="openid email")
    logged_in.post(APPS, {"consent": consent_id_on_page(logged_in.get(APPS), "Test app")})
    result = authorize(logged_in, rp, scope="openid email", prompt="none")
    assert query_of(result.response["Location"])["error"] == "consent_required"


def test_connected_apps_revoke_invalidates_unused_code(rp, logged_in, client):
    result = authorize(logged_in, rp, scope="openid email")
    logged_in.post(APPS, {"consent": consent_id_on_page(logged_in.get(APPS), "Test app")})
    response = exchange(client, rp, result)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_connected_apps_revoke_leaves_other_apps(rp, make_client, logged_in, client):
    other = make_client(name="Calendar")
    other_tokens = exchange(client, other, authorize(logged_in, other)).json()
    authorize(logged_in, rp)
    logged_in.post(APPS, {"consent": consent_id_on_page(logged_in.get(APPS), "Test app")})
    assert app_names(logged_in.get(APPS)) == ["Calendar"]
    assert userinfo(client, other_tokens["access_token"]).status_code == 200
    assert refresh(client, other, other_tokens["refresh_token"]).status_code == 200


def test_connected_apps_revoke_is_idempotent(rp, logged_in):
    authorize(logged_in, rp, scope="openid")
    consent_id = consent_id_on_page(logged_in.get(APPS), "Test app")
    assert logged_in.post(APPS, {"consent": consent_id}).status_code == 302
    again = logged_in.post(APPS, {"consent": consent_id}, follow=True)
    assert again.redirect_chain == [(APPS, 302)]
    assert b"already disconnected" in again.content
    assert app_names(again) == []


def test_connected_apps_cannot_revoke_another_users_consent(rp, logged_in, bob, client):
    bob_browser = sign_in("bob")
    bob_tokens = exchange(client, rp, authorize(bob_browser, rp)).json()
    bob_consent = consent_id_on_page(bob_browser.get(APPS), "Test app")

    assert logged_in.post(APPS, {"consent": bob_consent}).status_code == 404
    assert app_names(bob_browser.get(APPS)) == ["Test app"]
    assert userinfo(client, bob_tokens["access_token"]).status_code == 200
    assert refresh(client, rp, bob_tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    "data", [{}, {"consent": ""}, {"consent": "abc"}, {"consent": "-1"}, {"consent": "١"}]
)
def test_connected_apps_revoke_with_malformed_id_is_404(data, logged_in):
    assert logged_in.post(APPS, data).status_code == 404


def test_connected_apps_revoke_with_out_of_range_id_is_not_an_error(logged_in):
    response = logged_in.post(APPS, {"consent": "9" * 30})
    assert response.status_code == 302 and response["Location"] == APPS


def test_connected_apps_revoke_requires_csrf_token(rp, logged_in, user):
    authorize(logged_in, rp, scope="openid")
    strict = BrowserClient(enforce_csrf_checks=True)
    strict.cookies = logged_in.cookies
    consent = Consent.objects.get(user=user)
    assert strict.post(APPS, {"consent": str(consent.pk)}).status_code == 403
    assert Consent.objects.filter(pk=consent.pk).exists()


def test_connected_apps_revoke_requires_login(rp, logged_in, user, browser):
    authorize(logged_in, rp, scope="openid")
    consent = Consent.objects.get(user=user)
    anonymous = BrowserClient()
    response = anonymous.post(APPS, {"consent": str(consent.pk)})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Consent.objects.filter(pk=consent.pk).exists()


# --- the confirmation ----------------------------------------------------------------------------


def test_connected_apps_revoke_asks_first_and_says_what_the_app_loses(rp, logged_in, client):
    tokens = exchange(client, rp, authorize(logged_in, rp, scope="openid email offline_access")).json()
    confirm = revoke_page_of(logged_in, logged_in.get(APPS), "Test app")
    assert confirm.status_code == 200
    text = re.sub(r"\s+", " ", confirm.content.decode())
    assert "<h1>Revoke access for Test app?</h1>" in text
    for scope in ("openid", "email", "offline_access"):
        assert f'data-scope="{scope}">{SCOPE_DESCRIPTIONS[scope]}<' in text
    assert "Test app is signed out of your account" in text
    assert "Its access and refresh tokens stop working" in text
    assert "Its offline access ends" in text
    assert "Next time you use Test app, it will ask for your permission again." in text
    # Asking revokes nothing.
    assert app_names(logged_in.get(APPS)) == ["Test app"]
    assert userinfo(client, tokens["access_token"]).status_code == 200
    # Keeping it goes back to the list.
    assert '<a href="/account/apps/">Keep it connected</a>' in text


def test_connected_apps_revoke_page_mentions_offline_access_only_when_granted(rp, logged_in):
    authorize(logged_in, rp, scope="openid profile")
    text = revoke_page_of(logged_in, logged_in.get(APPS), "Test app").content.decode()
    assert "offline access" not in text
    assert SCOPE_DESCRIPTIONS["profile"] in text


def test_connected_apps_revoke_tells_the_app_by_back_channel(
    make_client, signing_keys, logged_in, client, user
):
    app = make_client(name="Calendar", logout={"backchannel_logout_uri": "https://calendar.example.com/bc"})
    other = make_client(name="Wiki", logout={"backchannel_logout_uri": "https://wiki.example.com/bc"})
    exchange(client, app, authorize(logged_in, app))
    exchange(client, other, authorize(logged_in, other))
    confirm = revoke_page_of(logged_in, logged_in.get(APPS), "Calendar")
    assert "it is told at once to sign you out" in confirm.content.decode()
    logged_in.post(APPS, {"consent": consent_id_on_page(logged_in.get(APPS), "Calendar")})

    # Back-Channel Logout 1.0 §2.5: one logout token owed to Calendar, for this sign-in; none to Wiki.
    [delivery] = LogoutDelivery.objects.all()
    session = LoginSession.objects.get(user=user)
    assert (delivery.client.name, delivery.sid, delivery.subject) == ("Calendar", session.sid, user.subject)
    assert delivery.reason == "consent_revoked"
    # The sign-in itself goes on: the user is still signed in here and to Wiki.
    assert logged_in.get(APPS).status_code == 200 and session.is_active()


def test_connected_apps_revoke_page_of_someone_elses_app_reveals_nothing(rp, logged_in, bob):
    bob_browser = sign_in("bob")
    authorize(bob_browser, rp, scope="openid")
    bob_consent = Consent.objects.get(user=bob)
    response = logged_in.get(f"/account/apps/{bob_consent.pk}/revoke/", follow=True)
    assert response.redirect_chain == [(APPS, 302)]
    assert "not connected to your account" in response.content.decode()
    assert "Test app" not in response.content.decode()
    assert Consent.objects.filter(pk=bob_consent.pk).exists()


def test_connected_apps_revoke_page_requires_login(browser):
    response = browser.get("/account/apps/1/revoke/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def app_entry(page, app_name: str) -> str:
    return page.content.decode().split(f"<h2>{app_name}</h2>")[1].split('class="app"')[0]


def test_connected_apps_show_each_apps_site_mark_and_last_use(rp, make_client, logged_in, client):
    unused = make_client(name="Calendar", redirect_uris=["https://cal.example.org/auth/cb"])
    authorize(logged_in, unused, scope="openid")  # allowed, but the code is never redeemed
    exchange(client, rp, authorize(logged_in, rp))
    page = logged_in.get(APPS)
    used = app_entry(page, "Test app")
    assert 'href="https://rp.example.com/"' in used
    assert re.search(r"Last used <time datetime=\"\d{4}-\d\d-\d\dT", used)
    assert 'href="https://cal.example.org/"' in app_entry(page, "Calendar")
    assert "Not used recently." in app_entry(page, "Calendar")
    # Each app has a mark (no app registers a logo here): its initial.
    marks = re.findall(r'<span class="app-mark" aria-hidden="true">([^<]*)</span>', page.content.decode())
    assert sorted(marks) == ["C", "T"]


def test_connected_apps_last_use_follows_a_refresh(rp, logged_in, client):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    first = re.search(r'Last used <time datetime="([^"]+)"', app_entry(logged_in.get(APPS), "Test app"))
    assert first
    # The first token was issued a while ago; the refresh is the newest use.
    long_ago = AccessToken.objects.get().created.replace(year=2020)
    AccessToken.objects.update(created=long_ago)
    RefreshToken.objects.update(created=long_ago)
    assert 'datetime="2020-' in app_entry(logged_in.get(APPS), "Test app")
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200
    assert 'datetime="2020-' not in app_entry(logged_in.get(APPS), "Test app")


def test_connected_apps_page_queries_do_not_grow_with_apps(rp, make_client, logged_in, client):
    exchange(client, rp, authorize(logged_in, rp))
    with CaptureQueriesContext(connection) as one:
        logged_in.get(APPS)
    for number in range(3):
        other = make_client(name=f"App {number}")
        exchange(client, other, authorize(logged_in, other))
    with CaptureQueriesContext(connection) as four:
        page = logged_in.get(APPS)
    assert page.content.decode().count("Last used <time") == 4
    assert len(four) == len(one)
