"""Two gunicorn nodes on one database, each with its task worker, as a scaled-out deployment runs.

The nodes share the database, SECRET_KEY and issuer, and (second variant) a real `redis-server`
as their cache, which then holds sessions and login failure counts too. One browser's cookie jar
serves both nodes: cookies are per host, not per port.
Everything goes through HTTP and `manage.py`; nothing reaches into the provider's internals.
"""

import json
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis
import requests

from tests.cluster import (
    collected_static,
    create_users,
    gunicorn_node,
    manage,
    node_environment,
    redis_server,
    scratch_database,
    task_worker,
)
from tests.e2e.conftest import Browser, E2EClient, authorization_request, form_on, query_of, redeem_code
from tests.logout_receiver import LogoutReceiver, validate_logout_token
from tests.tokens import claims_of

ISSUER = "http://127.0.0.1:8000"
PASSWORD = "a long enough test passphrase"
REDIRECT_URI = "http://127.0.0.1:9/callback"
MAX_FAILURES = 3


@dataclass
class TwoNodes:
    a: str
    b: str
    env: dict[str, str]
    client_id: str
    client_secret: str
    receiver: LogoutReceiver
    # The shared Redis cache of the second variant; empty in the first.
    cache_url: str

    @property
    def client(self) -> E2EClient:
        return E2EClient(self.client_id, self.client_secret, REDIRECT_URI, "")

    def token(self, node: str, **data: str) -> requests.Response:
        return requests.post(
            f"{node}/o/token/", data=data, auth=(self.client_id, self.client_secret), timeout=10
        )


@pytest.fixture(scope="module", params=["database", "redis"])
def nodes(request, tmp_path_factory) -> Iterator[TwoNodes]:
    """Two nodes and two workers on one fresh database; the second variant shares a Redis cache."""
    if request.param == "redis" and shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server (`make redis` installs it)")
    tmp_path = tmp_path_factory.mktemp(f"nodes-{request.param}")
    receiver = LogoutReceiver().start()
    with ExitStack() as stack:
        stack.callback(receiver.stop)
        settings = {
            "ISSUER": ISSUER,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": str(MAX_FAILURES),
            "LOGOUT_RETRY_DELAY": "1",
        }
        if request.param == "redis":
            settings["CACHE_URL"] = stack.enter_context(redis_server(tmp_path / "redis.log"))
            settings["CACHE_SESSIONS"] = "true"
            settings["CACHE_THROTTLE"] = "true"
        database_url = stack.enter_context(scratch_database(tmp_path, migrated=True))
        env = node_environment(tmp_path, database_url, **settings)
        collected_static(tmp_path)
        manage(env, "rotatekeys")
        create_users(env, PASSWORD, "alice", "bob", "carol", "dave", "erin")
        client = json.loads(
            manage(
                env,
                "createclient",
                "Cluster app",
                "--redirect-uri",
                REDIRECT_URI,
                "--backchannel-logout-uri",
                receiver.url,
                "--backchannel-logout-session-required",
                "--json",
            )
        )
        node_a = stack.enter_context(gunicorn_node(env, tmp_path / "a.log"))
        node_b = stack.enter_context(gunicorn_node(env, tmp_path / "b.log"))
        stack.enter_context(task_worker(env, tmp_path / "worker-a.log"))
        stack.enter_context(task_worker(env, tmp_path / "worker-b.log"))
        yield TwoNodes(
            node_a,
            node_b,
            env,
            client["client_id"],
            client["client_secret"],
            receiver,
            settings.get("CACHE_URL", ""),
        )


def on(node: str, url: str) -> str:
    """Return ``url`` (a path, or an absolute URL on any node) as served by ``node``."""
    parts = urlsplit(url)
    return f"{node}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def sign_in_for_tokens(nodes: TwoNodes, browser: Browser, username: str) -> dict:
    """Log in on A, consent on B, redeem the code on A; return the token response."""
    request = authorization_request(f"{nodes.a}/o/authorize/", nodes.client, scope="openid email")
    page = browser.get(request.url)
    page = browser.log_in(page, username=username, password=PASSWORD)
    assert 'name="request_id"' in page.text, page.text[:500]
    form = form_on(page, "/o/authorize/consent/")
    consented = browser.session.post(
        f"{nodes.b}/o/authorize/consent/",
        data={**form.fields, "allow": "1"},
        headers={"Referer": on(nodes.b, page.url)},
        allow_redirects=False,
        timeout=10,
    )
    assert consented.status_code == 302, consented.text[:500]
    code = query_of(consented.headers["Location"])["code"]
    return redeem_code(f"{nodes.a}/o/token/", nodes.client, code, request.verifier)


def test_two_nodes_code_flow_crosses_nodes_and_refreshes_on_the_other(nodes):
    browser = Browser(nodes.a)
    tokens = sign_in_for_tokens(nodes, browser, "alice")
    assert claims_of(tokens["id_token"])["iss"] == ISSUER

    refreshed = nodes.token(nodes.b, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    userinfo = requests.get(
        f"{nodes.a}/o/userinfo/",
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == claims_of(tokens["id_token"])["sub"]
    if nodes.cache_url:
        # The variant is not vacuous: the nodes did keep their cache (sessions among it) in Redis.
        assert redis.Redis.from_url(nodes.cache_url).dbsize() > 0


def test_two_nodes_refresh_token_raced_across_nodes_has_one_successor(nodes):
    tokens = sign_in_for_tokens(nodes, Browser(nodes.a), "bob")
    racers = [nodes.a, nodes.b] * 3
    barrier = threading.Barrier(len(racers))
    responses: list[requests.Response | Exception | None] = [None] * len(racers)

    def send(index: int, node: str) -> None:
        barrier.wait()
        try:
            responses[index] = nodes.token(
                node, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
            )
        except Exception as error:  # noqa: BLE001 - reported below as the test's failure
            responses[index] = error

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Within the reuse grace window every retry gets the one successor (RFC 9700 §4.14.2).
    assert all(isinstance(r, requests.Response) for r in responses), responses
    assert [r.status_code for r in responses] == [200] * len(racers), [r.text[:200] for r in responses]
    (successor,) = {r.json()["refresh_token"] for r in responses}
    assert nodes.token(nodes.b, grant_type="refresh_token", refresh_token=successor).status_code == 200


def test_two_nodes_lockout_on_one_node_holds_on_the_other(nodes):
    attacker = Browser(nodes.a)
    for _ in range(MAX_FAILURES):
        page = attacker.get(f"{nodes.a}/accounts/login/")
        attacker.submit(page, "/accounts/login/", {"username": "carol", "password": "wrong guess"})

    owner = Browser(nodes.b)
    page = owner.get(f"{nodes.b}/accounts/login/")
    refused = owner.log_in(page, username="carol", password=PASSWORD)

    assert urlsplit(refused.url).path == "/accounts/login/"
    assert "Too many failed attempts" in refused.text
    assert "porchlight_session" not in owner.session.cookies
    if nodes.cache_url:
        # The variant is not vacuous: A counted the failures in Redis (PORCHLIGHT_CACHE_THROTTLE).
        assert redis.Redis.from_url(nodes.cache_url).keys("*throttle:password:*")


def test_two_nodes_logout_on_one_node_kills_tokens_and_is_delivered_once(nodes):
    browser = Browser(nodes.a)
    tokens = sign_in_for_tokens(nodes, browser, "dave")
    sid = claims_of(tokens["id_token"])["sid"]
    already = len(nodes.receiver.tokens)

    # The session ends on B.
    home = browser.get(f"{nodes.b}/accounts/")
    form = form_on(home, "/accounts/logout/")
    browser.session.post(
        f"{nodes.b}/accounts/logout/", data=form.fields, headers={"Referer": home.url}, timeout=10
    )

    refreshed = nodes.token(nodes.a, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = requests.get(
        f"{nodes.a}/o/userinfo/", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )
    assert userinfo.status_code == 401
    # Both nodes' workers poll the same queue; the app hears of the logout exactly once.
    arrived = nodes.receiver.wait_for(already + 1, timeout=20)[already:]
    time.sleep(2)
    assert len(nodes.receiver.tokens) == already + 1
    jwks = requests.get(f"{nodes.b}/o/jwks/", timeout=10).json()
    claims = validate_logout_token(arrived[0], jwks=jwks, audience=nodes.client_id, issuer=ISSUER)
    assert claims["sid"] == sid


def test_two_nodes_session_ended_on_one_node_tokens_inactive_on_the_other(nodes):
    tokens = sign_in_for_tokens(nodes, Browser(nodes.a), "erin")

    def introspect_on_b(token: str) -> dict:
        # RFC 7662 §2.1: the app may introspect its own tokens.
        response = requests.post(
            f"{nodes.b}/o/introspect/",
            data={"token": token},
            auth=(nodes.client_id, nodes.client_secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text[:500]
        return response.json()

    assert introspect_on_b(tokens["access_token"])["active"] is True
    assert introspect_on_b(tokens["refresh_token"])["active"] is True

    # Erin, signed in elsewhere, signs out of every other session on A.
    elsewhere = Browser(nodes.a)
    home = elsewhere.log_in(elsewhere.get(f"{nodes.a}/accounts/"), username="erin", password=PASSWORD)
    assert "Sign out of every other session" in home.text, home.text[:500]
    ended = elsewhere.submit(home, "/accounts/sessions/end/", {"sid": "others"})
    assert ended.status_code == 200

    # Back-Channel Logout 1.0 §2.7: B, sharing the database, already says the tokens are dead.
    assert introspect_on_b(tokens["access_token"]) == {"active": False}
    assert introspect_on_b(tokens["refresh_token"]) == {"active": False}
    userinfo = requests.get(
        f"{nodes.b}/o/userinfo/", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )
    assert userinfo.status_code == 401
