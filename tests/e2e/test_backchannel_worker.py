"""Back-channel logout as in production: gunicorn and the task worker, each its own process.

Both share one database made for the module (a SQLite file, or a fresh PostgreSQL database on the
PostgreSQL run); each test signs in its own person with its own apps. A receiver on a loopback
port plays the apps' back-channel endpoint and checks every logout token against the published
JWKS. Nothing here reaches into the provider's internals: everything goes through HTTP and
`manage.py`.
"""

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.cluster import (
    collected_static,
    free_port,
    gunicorn_node,
    manage,
    node_environment,
    scratch_database,
    task_worker,
)
from tests.e2e.conftest import Browser, E2EClient, authorization_request, form_on, query_of, redeem_code
from tests.logout_receiver import LogoutReceiver, validate_logout_token
from tests.oauth import Served, refresh_status
from tests.tokens import claims_of

PASSWORD = "a long enough test passphrase"
REDIRECT_URI = "http://127.0.0.1:9/callback"
# Retries 1 s and 2 s after the first try; the third try is the last.
ATTEMPTS, RETRY_DELAY = 3, 1
# One person per test, so that no test's sessions are another's.
USERS = ("alice", "bob", "carol")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A database of its own for the served provider and its worker; dropped afterwards."""
    with scratch_database(tmp_path_factory.mktemp("backchannel-db"), migrated=True) as url:
        yield url


@dataclass
class Stack:
    """The provider under gunicorn plus `manage.py db_worker`, sharing one database."""

    url: str
    env: dict[str, str]

    def create_client(self, name: str, backchannel_logout_uri: str) -> E2EClient:
        out = manage(
            self.env,
            "createclient",
            name,
            "--redirect-uri",
            REDIRECT_URI,
            "--skip-consent",
            "--backchannel-logout-uri",
            backchannel_logout_uri,
            "--backchannel-logout-session-required",
            "--json",
        )
        created = json.loads(out)
        return E2EClient(created["client_id"], created["client_secret"], REDIRECT_URI, "")

    def deliveries(self, *apps: str) -> list[dict]:
        """What the admin's logout delivery list shows for ``apps``, read the way an operator would."""
        fields = "'client__name', 'state', 'attempts', 'last_error'"
        code = (
            "import json; from oidc_provider.models import LogoutDelivery as D; "
            f"rows = D.objects.filter(client__name__in={list(apps)!r}).order_by('pk'); "
            f"print(json.dumps(list(rows.values({fields}))))"
        )
        return json.loads(manage(self.env, "shell", "-v0", "-c", code))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, database_url):
    """One provider and worker for the module (each start costs seconds); each test has its own
    person (``USERS``) and apps, and reads only its apps' deliveries."""
    folder = tmp_path_factory.mktemp("backchannel")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = node_environment(
        folder,
        database_url,
        # The worker signs the logout tokens, so it needs the issuer too.
        ISSUER=url,
        LOGOUT_ATTEMPTS=str(ATTEMPTS),
        LOGOUT_RETRY_DELAY=str(RETRY_DELAY),
        LOGOUT_TIMEOUT="2",
    )
    collected_static(folder)
    manage(env, "rotatekeys")
    manage(
        env,
        "shell",
        "-v0",
        "-c",
        f"from accounts.models import User\nfor name in {USERS!r}: "
        f"User.objects.create_user(username=name, password={PASSWORD!r}, email=name + '@example.com')",
    )
    # The worker exactly as `make run` and the systemd unit start it.
    with (
        gunicorn_node(env, folder / "gunicorn.log", workers=2, port=port),
        task_worker(env, folder / "worker.log"),
    ):
        yield Stack(url, env)


def sign_in(stack: Stack, browser: Browser, client: E2EClient, username: str) -> dict:
    """Sign in (if needed) and run the code flow with PKCE; return the token response."""
    request = authorization_request(f"{stack.url}/o/authorize/", client, scope="openid email")
    page = browser.get(request.url)
    if not page.is_redirect:
        page = browser.log_in(page, username=username, password=PASSWORD)
    assert page.is_redirect, page.text[:500]
    code = query_of(page.headers["Location"])["code"]
    return redeem_code(f"{stack.url}/o/token/", client, code, request.verifier)


def test_logout_reaches_each_app_once_even_when_its_receiver_was_down(stack):
    # The receiver's port is chosen now but nothing listens on it yet: the app is down.
    receiver = LogoutReceiver()
    first = stack.create_client("First app", receiver.url)
    second = stack.create_client("Second app", receiver.url)
    browser = Browser(stack.url)
    tokens = [sign_in(stack, browser, first, "alice"), sign_in(stack, browser, second, "alice")]
    sid = claims_of(tokens[0]["id_token"])["sid"]

    started = time.monotonic()
    query = urlencode({"id_token_hint": tokens[0]["id_token"], "client_id": first.client_id})
    signed_out = browser.session.get(f"{stack.url}/o/logout/?{query}", allow_redirects=False, timeout=10)
    assert signed_out.status_code == 302
    # The user's logout was never delayed by the apps being down.
    assert time.monotonic() - started < 2
    assert refresh_status(Served(stack.url), first, tokens[0]["refresh_token"]) == 400
    assert refresh_status(Served(stack.url), second, tokens[1]["refresh_token"]) == 400

    # The app comes back answering 503 first: each first try fails, whatever the machine's load,
    # and the worker must deliver on a retry.
    receiver.status = 503
    receiver.start()
    try:
        assert len(receiver.wait_for(2, timeout=20)) == 2, "each app was tried"
        with receiver.arrived:
            receiver.status = 200
            receiver.tokens.clear()
        arrived = receiver.wait_for(2, timeout=20)
        time.sleep(RETRY_DELAY * 3)  # any duplicate would have come by now
        assert len(receiver.tokens) == 2, receiver.tokens
    finally:
        receiver.stop()
    jwks = requests.get(f"{stack.url}/o/jwks/", timeout=10).json()
    audiences = set()
    for token in arrived:
        claims = validate_logout_token(token, jwks=jwks, audience=claims_of(token)["aud"], issuer=stack.url)
        assert claims["sid"] == sid
        audiences.add(claims["aud"])
    assert audiences == {first.client_id, second.client_id}
    states = stack.deliveries("First app", "Second app")
    assert [d["state"] for d in states] == ["delivered", "delivered"]
    assert any(d["attempts"] > 1 for d in states)  # delivered on a retry, after a failed try


def test_sign_out_everywhere_else_tells_only_the_other_sessions_apps(stack):
    receiver = LogoutReceiver().start()
    try:
        app = stack.create_client("Everywhere app", receiver.url)
        laptop, phone = Browser(stack.url), Browser(stack.url)
        laptop_tokens = sign_in(stack, laptop, app, "bob")
        phone_tokens = sign_in(stack, phone, app, "bob")
        home = laptop.get(f"{stack.url}/accounts/")
        assert "Where you" in home.text and home.text.count("Everywhere app") == 2
        form = form_on(home, "/accounts/sessions/end/")
        ended = laptop.session.post(
            f"{stack.url}/accounts/sessions/end/",
            data={**form.fields, "sid": "others"},
            headers={"Referer": home.url},
            allow_redirects=False,
            timeout=10,
        )
        assert ended.status_code == 302
        assert urlsplit(phone.get(f"{stack.url}/accounts/").url).path == "/accounts/login/"
        (token,) = receiver.wait_for(1, timeout=15)
        jwks = requests.get(f"{stack.url}/o/jwks/", timeout=10).json()
        claims = validate_logout_token(token, jwks=jwks, audience=app.client_id, issuer=stack.url)
        assert claims["sid"] == claims_of(phone_tokens["id_token"])["sid"]
        assert refresh_status(Served(stack.url), app, phone_tokens["refresh_token"]) == 400
        assert refresh_status(Served(stack.url), app, laptop_tokens["refresh_token"]) == 200
        time.sleep(1)
        assert len(receiver.tokens) == 1
    finally:
        receiver.stop()


def test_delivery_to_an_app_that_stays_down_ends_failed(stack):
    closed = f"http://127.0.0.1:{free_port()}/backchannel-logout"
    app = stack.create_client("Down app", closed)
    browser = Browser(stack.url)
    sign_in(stack, browser, app, "carol")
    home = browser.get(f"{stack.url}/accounts/")
    form = form_on(home, "/accounts/logout/")
    started = time.monotonic()
    browser.session.post(
        f"{stack.url}/accounts/logout/", data=form.fields, headers={"Referer": home.url}, timeout=10
    )
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (delivery,) = stack.deliveries("Down app")
        if delivery["state"] != "pending":
            break
        time.sleep(0.5)
    assert delivery["state"] == "failed" and delivery["attempts"] == ATTEMPTS
    assert delivery["last_error"].startswith("ConnectError")
