"""End-to-end fixtures: the provider on a live HTTP server, a registered RP, and a scripted browser.

Every request here crosses a real socket; nothing reaches into the provider's internals. The
RP's redirect URIs point at port 9 (discard) on loopback and are never requested: the browser
stops at the first redirect that leaves the provider.
"""

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TypedDict
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from django.db import connection
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.settings import oauth2_settings
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright

from oidc_provider import keys, rotation
from oidc_provider.services import client_create
from tests.cluster import TEST_SERVER, ServedProvider
from tests.conftest import PASSWORD, pkce_pair, query_of
from tests.tokens import half_hash

RP_ORIGIN = "http://127.0.0.1:9"
REDIRECT_URI = f"{RP_ORIGIN}/callback"
POST_LOGOUT_REDIRECT_URI = f"{RP_ORIGIN}/logged-out"
SCOPE = "openid profile email offline_access"


@pytest.fixture
def issuer(live_server, transactional_db, settings, monkeypatch, key_pool) -> str:
    """Serve the provider at ``live_server.url`` and make that its issuer, with signing keys."""
    # The live server answers each keep-alive connection (requests, Chromium) on its own thread
    # and closes that thread's database connection only when the client hangs up. Close it after
    # every request instead, as the SQLite settings already do, so no idle PostgreSQL session
    # outlives the test and blocks dropping the test database.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    url = live_server.url
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}
    # DOT reloads its settings on setting_changed; fail loudly if that ever stops.
    assert url == oauth2_settings.OIDC_ISS_ENDPOINT
    with key_pool.lending():
        rotation.keys_rotate()
    keys.clear_cache()
    return url


@pytest.fixture
def metadata(issuer) -> dict:
    """The discovery document, fetched the way an RP does (OIDC Discovery 1.0 §4)."""
    response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


@dataclass
class E2EClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str


@pytest.fixture
def register(issuer):
    """Register a client; its redirect URIs default to the (never contacted) RP origin.

    A real RP (tests/rp.py) passes its own ``redirect_uri`` and ``post_logout_redirect_uri``.
    """

    def make(
        name: str = "Example RP",
        *,
        public: bool = False,
        redirect_uri: str = REDIRECT_URI,
        post_logout_redirect_uri: str = POST_LOGOUT_REDIRECT_URI,
        grant_types: list[str] | None = None,
        require_pkce: bool = True,
    ) -> E2EClient:
        client, secret = client_create(
            name=name,
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[post_logout_redirect_uri],
            public=public,
            grant_types=grant_types,
            require_pkce=require_pkce,
        )
        return E2EClient(client.client_id, secret, redirect_uri, post_logout_redirect_uri)

    return make


@pytest.fixture
def rp_client(register) -> E2EClient:
    return register()


# --- the user's browser, scripted over requests ---------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""), {}))
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")


def forms_on(page: requests.Response) -> list[tuple[str, Form]]:
    """Return every form on ``page`` with the path it posts to."""
    parser = _FormParser()
    parser.feed(page.text)
    return [(urlsplit(urljoin(page.url, form.action)).path, form) for form in parser.forms]


def form_on(page: requests.Response, action_path: str) -> Form:
    """Return the form on ``page`` that posts to ``action_path``, with its pre-filled inputs."""
    for path, form in forms_on(page):
        if path == action_path:
            return form
    raise AssertionError(f"no form posting to {action_path} on {page.url}: {page.text[:500]}")


def race(count: int, send) -> list[requests.Response]:
    """Call ``send()`` from ``count`` threads released at the same moment; return the responses."""
    barrier = threading.Barrier(count)
    responses: list[requests.Response | Exception | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            responses[index] = send()
        except Exception as error:  # noqa: BLE001 - reported below as the test's failure
            responses[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(response, requests.Response) for response in responses), responses
    return [response for response in responses if isinstance(response, requests.Response)]


class Browser:
    """A user agent: keeps cookies, follows redirects within the provider, stops at any other site."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.session = requests.Session()

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow ``response``'s redirects while they stay within the provider, as a browser does."""
        while response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if not target.startswith(self.issuer + "/"):
                return response
            response = self.session.get(target, allow_redirects=False, timeout=10)
        return response

    def get(self, url: str) -> requests.Response:
        return self.follow(self.session.get(url, allow_redirects=False, timeout=10))

    def submit(self, page: requests.Response, action_path: str, data: dict[str, str]) -> requests.Response:
        """Submit the form on ``page`` (hidden inputs included) with ``data`` filled in."""
        form = form_on(page, action_path)
        response = self.session.post(
            urljoin(page.url, form.action or page.url),
            data={**form.fields, **data},
            headers={"Referer": page.url},
            allow_redirects=False,
            timeout=10,
        )
        return self.follow(response)

    def log_in(
        self, page: requests.Response, *, username: str = "alice", password: str = PASSWORD
    ) -> requests.Response:
        assert urlsplit(page.url).path == "/accounts/login/", page.url
        return self.submit(page, "/accounts/login/", {"username": username, "password": password})

    def answer_consent(self, page: requests.Response, *, allow: bool = True) -> requests.Response:
        assert page.status_code == 200 and 'name="request_id"' in page.text, page.text[:500]
        return self.submit(page, "/o/authorize/consent/", {"allow" if allow else "deny": "1"})

    def sign_in(self, authorize_url: str, *, allow: bool = True) -> str:
        """Log in through the login form, answer consent, and return the redirect to the RP."""
        page = self.get(authorize_url)
        if urlsplit(page.url).path == "/accounts/login/" and not page.is_redirect:
            page = self.log_in(page)
        response = self.answer_consent(page, allow=allow) if not page.is_redirect else page
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]


@pytest.fixture
def browser(issuer) -> Iterator[Browser]:
    browser = Browser(issuer)
    yield browser
    browser.session.close()


@dataclass
class AuthorizationRequest:
    """A code flow request as an RP sends the browser off with it, and what the RP keeps back."""

    url: str
    state: str
    nonce: str
    verifier: str


def authorization_request(
    endpoint: str, client: E2EClient, *, scope: str = SCOPE, **params: str | list[str]
) -> AuthorizationRequest:
    """Build a code flow request to ``endpoint`` with PKCE S256, a state and a nonce.

    ``params`` add to or replace the query's parameters (``response_mode``, ``prompt``, ...).
    """
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    url = f"{endpoint}?{urlencode(query, doseq=True)}"
    state, nonce = query["state"], query["nonce"]
    assert isinstance(state, str) and isinstance(nonce, str), "an RP keeps one state and one nonce"
    return AuthorizationRequest(url, state, nonce, verifier)


def redeem_code(token_endpoint: str, client: E2EClient, code: str, verifier: str) -> dict:
    """Exchange ``code`` at the token endpoint as the RP does (RFC 6749 §4.1.3); return the tokens."""
    response = requests.post(
        token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
            "client_id": client.client_id,
        },
        auth=(client.client_id, client.client_secret) if client.client_secret else None,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def sign_in_for_tokens(
    browser: Browser, metadata: dict, client: E2EClient, *, scope: str = SCOPE, **params: str | list[str]
) -> dict:
    """Run the code flow with PKCE S256 through the real pages; return the token response."""
    request = authorization_request(metadata["authorization_endpoint"], client, scope=scope, **params)
    callback = query_of(browser.sign_in(request.url))
    assert callback["state"] == request.state
    return redeem_code(metadata["token_endpoint"], client, callback["code"], request.verifier)


def assert_tokens_revoked(metadata: dict, client: E2EClient, tokens: dict) -> None:
    """Assert the RP's refresh token is refused (RFC 6749 §5.2) and its access token too (RFC 6750 §3.1)."""
    assert client.client_secret, "the refresh is authenticated as a confidential RP"
    refreshed = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 401


# --- what a strict RP checks in an ID token --------------------------------------------------


class IDTokenChecks(TypedDict, total=False):
    """The claims ``verify_id_token`` requires, as joserfc's ``JWTClaimsRegistry`` takes them."""

    iss: jwt.ClaimsOption
    aud: jwt.ClaimsOption
    exp: jwt.ClaimsOption
    iat: jwt.ClaimsOption
    sub: jwt.ClaimsOption
    nonce: jwt.ClaimsOption


def verify_id_token(
    id_token: str, *, metadata: dict, client_id: str, nonce: str | None, access_token: str | None = None
) -> dict:
    """Verify ``id_token`` with joserfc against the provider's published JWKS; return its claims."""
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    token = jwt.decode(
        id_token, KeySet.import_key_set(jwks), algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    options: IDTokenChecks = {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**options).validate(token.claims)
    if access_token is not None:
        assert token.claims["at_hash"] == half_hash(access_token, token.header["alg"])
    return token.claims


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; browsers are never downloaded
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def rp_page(route: Route) -> None:
    # Stand in for the RP so the browser never leaves the machine.
    route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>RP</title><p>Back at the RP"
    )


@contextmanager
def chromium_context(*, javascript: bool = True, locale: str | None = None) -> Iterator[BrowserContext]:
    """Headless Chromium (JavaScript on or off) whose requests to the RP are answered locally.

    ``locale`` is the browser's language (``navigator.language`` and ``Accept-Language``).

    Fixtures using it should depend on every database fixture first, so their ORM work is
    done before Playwright's event loop starts and after it stops.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=javascript, locale=locale)
        context.route(f"{RP_ORIGIN}/**", rp_page)
        try:
            yield context
        finally:
            context.close()
            browser.close()


def chromium_sign_in(page: Page, *, username: str = "alice", password: str = PASSWORD) -> None:
    """Fill in Porchlight's sign-in form the way a person does, and wait to leave it."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/accounts/login/")


def copied(page: Page, button: str) -> str:
    """Press the copy button named ``button``; return what reached the clipboard.

    The page writes the clipboard after the click has returned (static/porchlight/copy.js), so
    the clipboard is emptied first and read until the text arrives.
    """
    page.evaluate("navigator.clipboard.writeText('')")
    page.get_by_role("button", name=button, exact=True).click()
    deadline = time.monotonic() + 15
    while not (text := page.evaluate("navigator.clipboard.readText()")) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return text


def chromium_sign_out(page: Page) -> None:
    """Press Sign out on an account page and land back on the sign-in form."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def add_virtual_authenticator(context: BrowserContext, page: Page) -> None:
    """Give ``page`` a platform authenticator that verifies the user (CDP WebAuthn domain, CTAP2)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


@pytest.fixture
def passkey_origin(issuer, settings) -> None:
    """Let passkeys work on the live server: they need a host name as RP ID, not an IP address."""
    assert urlsplit(issuer).hostname == "localhost"
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [issuer]


def chromium_approve_device(page: Page, *, verification_uri: str, user_code: str) -> None:
    """Approve a device as its user does (RFC 8628 §3.3): open the URI, sign in, type the code, confirm."""
    page.goto(verification_uri)
    if urlsplit(page.url).path == "/accounts/login/":
        chromium_sign_in(page)
    page.get_by_label("Code", exact=True).fill(user_code)
    page.get_by_role("button", name="Continue").click()
    # RFC 8628 §5.4: the user sees which app asks before allowing it.
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="Device connected").wait_for()


# --- the provider under a production server (test_served_relying_parties.py) -----------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Show the end of the served provider's log in the report of a test that failed against it."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, ServedProvider):
                report.sections.append((f"{TEST_SERVER} log ({value.log})", value.log_tail()))
    return report
