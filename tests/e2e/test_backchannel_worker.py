"""Back-channel logout as in production: gunicorn and the task worker, each its own process.

Both share one database made for the test (a SQLite file, or a fresh PostgreSQL database on the
PostgreSQL run). A receiver on a loopback port plays the apps' back-channel endpoint and checks
every logout token against the published JWKS. Nothing here reaches into the provider's
internals: everything goes through HTTP and `manage.py`.
"""

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.cluster import scratch_database
from tests.conftest import pkce_pair
from tests.e2e.conftest import Browser, form_on, query_of
from tests.logout_receiver import LogoutReceiver, free_port, validate_logout_token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "a long enough test passphrase"
REDIRECT_URI = "http://127.0.0.1:9/callback"
# Retries 1 s and 2 s after the first try; the third try is the last.
ATTEMPTS, RETRY_DELAY = 3, 1


@pytest.fixture
def database_url(tmp_path):
    """A database of its own for the served provider and its worker; dropped afterwards."""
    with scratch_database(tmp_path) as url:
        yield url


class Stack:
    """The provider under gunicorn plus `manage.py db_worker`, sharing one database."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PORCHLIGHT_")}
        self.env.update(
            DATABASE_URL=database_url,
            PORCHLIGHT_VAR_DIR=str(tmp_path),
            PORCHLIGHT_BIND=f"127.0.0.1:{port}",
            PORCHLIGHT_ISSUER=self.url,
            PORCHLIGHT_WORKERS="2",
            PORCHLIGHT_ACCESS_LOG="",
            PORCHLIGHT_LOGOUT_ATTEMPTS=str(ATTEMPTS),
            PORCHLIGHT_LOGOUT_RETRY_DELAY=str(RETRY_DELAY),
            PORCHLIGHT_LOGOUT_TIMEOUT="2",
            # The receiver plays the apps' endpoint on loopback (ground/outbound.py).
            PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8,::1/128",
        )
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def start(self) -> None:
        for args in (["migrate", "-v0"], ["collectstatic", "--no-input", "-v0"], ["rotatekeys"]):
            self.manage(*args)
        self.processes.append(
            subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "porchlight/gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        # The worker exactly as `make run` and the systemd unit start it.
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/.well-known/openid-configuration", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def create_client(self, name: str, backchannel_logout_uri: str) -> tuple[str, str]:
        out = self.manage(
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
        return created["client_id"], created["client_secret"]

    def deliveries(self) -> list[dict]:
        """What the admin's logout delivery list shows, read the way an operator would."""
        fields = "'client__name', 'state', 'attempts', 'last_error'"
        code = (
            "import json; from oidc_provider.models import LogoutDelivery as D; "
            f"print(json.dumps(list(D.objects.order_by('pk').values({fields}))))"
        )
        return json.loads(self.manage("shell", "-v0", "-c", code))


@pytest.fixture
def stack(tmp_path, database_url):
    running = Stack(tmp_path, database_url)
    try:
        running.start()
        running.manage(
            "shell",
            "-v0",
            "-c",
            "from accounts.models import User; "
            f"User.objects.create_user(username='alice', password={PASSWORD!r}, email='alice@example.com')",
        )
        yield running
    finally:
        running.stop()


def sign_in(stack: Stack, browser: Browser, client_id: str, secret: str) -> dict:
    """Sign in (if needed) and run the code flow with PKCE; return the token response."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email",
        "state": "s",
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(f"{stack.url}/o/authorize/?{urlencode(query)}")
    if not page.is_redirect:
        page = browser.log_in(page, password=PASSWORD)
    assert page.is_redirect, page.text[:500]
    code = query_of(page.headers["Location"])["code"]
    response = requests.post(
        f"{stack.url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh_status(stack: Stack, client_id: str, secret: str, refresh_token: str) -> int:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(f"{stack.url}/o/token/", data=data, auth=(client_id, secret), timeout=10).status_code


def claims_of(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def test_logout_reaches_each_app_once_even_when_its_receiver_was_down(stack):
    # The receiver's port is chosen now but nothing listens on it yet: the app is down.
    receiver = LogoutReceiver()
    first = stack.create_client("First app", receiver.url)
    second = stack.create_client("Second app", receiver.url)
    browser = Browser(stack.url)
    tokens = [sign_in(stack, browser, *first), sign_in(stack, browser, *second)]
    sid = claims_of(tokens[0]["id_token"])["sid"]

    started = time.monotonic()
    query = urlencode({"id_token_hint": tokens[0]["id_token"], "client_id": first[0]})
    signed_out = browser.session.get(f"{stack.url}/o/logout/?{query}", allow_redirects=False, timeout=10)
    assert signed_out.status_code == 302
    # The user's logout was never delayed by the apps being down.
    assert time.monotonic() - started < 2
    assert refresh_status(stack, *first, tokens[0]["refresh_token"]) == 400
    assert refresh_status(stack, *second, tokens[1]["refresh_token"]) == 400

    time.sleep(0.5)
    receiver.start()
    try:
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
    assert audiences == {first[0], second[0]}
    states = stack.deliveries()
    assert [d["state"] for d in states] == ["delivered", "delivered"]
    assert any(d["attempts"] > 1 for d in states)  # delivered on a retry, after a failed try


def test_sign_out_everywhere_else_tells_only_the_other_sessions_apps(stack):
    receiver = LogoutReceiver().start()
    try:
        app = stack.create_client("Everywhere app", receiver.url)
        laptop, phone = Browser(stack.url), Browser(stack.url)
        laptop_tokens = sign_in(stack, laptop, *app)
        phone_tokens = sign_in(stack, phone, *app)
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
        claims = validate_logout_token(token, jwks=jwks, audience=app[0], issuer=stack.url)
        assert claims["sid"] == claims_of(phone_tokens["id_token"])["sid"]
        assert refresh_status(stack, *app, phone_tokens["refresh_token"]) == 400
        assert refresh_status(stack, *app, laptop_tokens["refresh_token"]) == 200
        time.sleep(1)
        assert len(receiver.tokens) == 1
    finally:
        receiver.stop()


def test_delivery_to_an_app_that_stays_down_ends_failed(stack):
    closed = f"http://127.0.0.1:{free_port()}/backchannel-logout"
    app = stack.create_client("Down app", closed)
    browser = Browser(stack.url)
    sign_in(stack, browser, *app)
    home = browser.get(f"{stack.url}/accounts/")
    form = form_on(home, "/accounts/logout/")
    started = time.monotonic()
    browser.session.post(
        f"{stack.url}/accounts/logout/", data=form.fields, headers={"Referer": home.url}, timeout=10
    )
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (delivery,) = stack.deliveries()
        if delivery["state"] != "pending":
            break
        time.sleep(0.5)
    assert delivery["state"] == "failed" and delivery["attempts"] == ATTEMPTS
    assert delivery["last_error"].startswith("ConnectError")
