"""Per-client request budgets (oidc_provider/rate_limits.py), as clients, staff and operators see them.

Every test that counts runs twice, with the counts in the database and in a real Redis
(``throttle_store``, as the login throttle's tests do); the concurrent one runs on PostgreSQL.
"""

import json
import os
import re
import subprocess
import sys
import threading
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from ground.rates import Rate
from oidc_provider.models import Client, ClientRequestCount, DeviceGrant
from oidc_provider.rate_limits import leases_forget
from tests.admin_forms import change_client_in_admin
from tests.conftest import authorize, basic_auth, concurrent_database, exchange

BUDGET = 3
WINDOW = 3600
ORIGIN = "https://spa.example.com"
METRICS_TOKEN = "metrics-token-for-rate-limit-tests-0123"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def budget(settings, throttle_store):
    """Every client may make BUDGET requests an hour unless it has a limit of its own."""
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "CLIENT_RATE_LIMIT": Rate(BUDGET, WINDOW),
        "METRICS_TOKEN": METRICS_TOKEN,
        "METRICS_ALLOWED_NETWORKS": [],
    }
    return throttle_store


@pytest.fixture
def machine(make_client, signing_keys):
    return make_client(
        name="Job", redirect_uris=[], post_logout_redirect_uris=[], grant_types=["client_credentials"]
    )


@pytest.fixture
def tv(make_client, signing_keys):
    return make_client(
        name="TV", public=True, redirect_uris=[], post_logout_redirect_uris=[], grant_types=[DEVICE_GRANT]
    )


def token(http, registered, *, secret: str | None = None, **extra):
    """Ask for a client_credentials token as ``registered`` (with ``secret`` instead of its own)."""
    auth = basic_auth(registered.client_id, secret if secret is not None else registered.client_secret)
    return http.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth, **extra)


def revoke(http, registered, value: str = "no-such-token", **extra):
    auth = basic_auth(registered.client_id, registered.client_secret)
    return http.post("/o/revoke/", {"token": value}, HTTP_AUTHORIZATION=auth, **extra)


def introspect(http, registered, value: str, *, secret: str | None = None, **extra):
    auth = basic_auth(registered.client_id, secret if secret is not None else registered.client_secret)
    return http.post("/o/introspect/", {"token": value}, HTTP_AUTHORIZATION=auth, **extra)


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def assert_refused(response, *, window: int = WINDOW) -> None:
    """Check ``response`` is the budget's 429 (RFC 6585 §4) in the endpoints' JSON error shape."""
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "too_many_requests"
    assert "budget" in body["error_description"]
    assert 1 <= int(response["Retry-After"]) <= window
    assert response["Cache-Control"] == "no-store"


def refusals(http, endpoint: str, client: str) -> float:
    """Return porchlight_client_rate_limited_total{endpoint, client} from /metrics."""
    text = http.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    labels = rf'\{{client="{re.escape(client)}",endpoint="{endpoint}"\}}'
    match = re.search(rf"^porchlight_client_rate_limited_total{labels} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


# --- the budget at each endpoint ------------------------------------------------------------


def test_client_rate_limits_token_refuses_requests_past_the_budget(client, budget, machine):
    responses = [token(client, machine) for _ in range(BUDGET + 2)]

    assert statuses(responses) == [200] * BUDGET + [429, 429]
    assert_refused(responses[-1])
    assert "access_token" not in responses[-1].json()


def test_client_rate_limits_window_frees_when_retry_after_has_passed(client, budget, machine, clock):
    clock.on_advance.append(budget.age)
    for _ in range(BUDGET):
        assert token(client, machine).status_code == 200
    refused = token(client, machine)
    assert_refused(refused)
    wait = int(refused["Retry-After"])
    assert wait == WINDOW  # the clock stood still since the window opened

    # Redis's keys also age in real time while the requests above run (seconds on a loaded
    # machine), so "just before" is some margin before the end, not the last second.
    margin = 30
    clock.advance(wait - margin)
    assert_refused(token(client, machine))
    clock.advance(margin)
    assert token(client, machine).status_code == 200


def test_client_rate_limits_refused_code_exchange_consumes_nothing(client, budget, rp, logged_in):
    result = authorize(logged_in, rp)
    for _ in range(BUDGET):
        assert revoke(client, rp).status_code == 200

    assert_refused(exchange(client, rp, result))
    # Staff give the app more room: the same code still works, so the refusal redeemed nothing.
    call_command("updateclient", rp.client_id, "--rate-limit", "100/3600", stdout=StringIO())
    redeemed = exchange(client, rp, result)
    assert redeemed.status_code == 200
    assert {"access_token", "id_token", "refresh_token"} <= redeemed.json().keys()


def test_client_rate_limits_one_budget_for_all_endpoints(client, budget, rp, logged_in):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    assert introspect(client, rp, tokens["access_token"]).json()["active"] is True
    assert revoke(client, rp).status_code == 200

    assert_refused(introspect(client, rp, tokens["access_token"]))
    assert_refused(revoke(client, rp))
    assert_refused(client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"))


def test_client_rate_limits_introspection_counts_the_authenticated_caller(client, budget, rp, logged_in):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()  # one of the budget

    responses = [introspect(client, rp, tokens["access_token"]) for _ in range(BUDGET)]

    assert statuses(responses) == [200] * (BUDGET - 1) + [429]
    assert_refused(responses[-1])


def test_client_rate_limits_revocation_counts_the_authenticated_caller(client, budget, rp):
    responses = [revoke(client, rp) for _ in range(BUDGET + 1)]

    assert statuses(responses) == [200] * BUDGET + [429]
    assert_refused(responses[-1])


def test_client_rate_limits_userinfo_counts_the_tokens_client_not_invalid_tokens(
    client, budget, rp, logged_in
):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()  # one of the budget
    # Invalid tokens are answered as such and count against no client.
    for _ in range(BUDGET + 2):
        invalid = client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token")
        assert invalid.status_code == 401

    bearer = f"Bearer {tokens['access_token']}"
    responses = [client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer) for _ in range(BUDGET)]

    assert statuses(responses) == [200] * (BUDGET - 1) + [429]
    assert_refused(responses[-1])
    # The token is good: no challenge that would make the app throw it away (RFC 6750 §3).
    assert "WWW-Authenticate" not in responses[-1]


def test_client_rate_limits_device_authorization_counts_a_public_client_by_client_id(client, budget, tv):
    responses = [
        client.post("/o/device/", {"client_id": tv.client_id, "scope": "openid"}) for _ in range(BUDGET + 1)
    ]

    assert statuses(responses) == [200] * BUDGET + [429]
    assert_refused(responses[-1])
    # The refused request left no device code behind.
    assert DeviceGrant.objects.filter(client_id=tv.client_id).count() == BUDGET
    # Polling the token endpoint spends the same budget.
    device_code = responses[0].json()["device_code"]
    poll = client.post(
        "/o/token/", {"grant_type": DEVICE_GRANT, "client_id": tv.client_id, "device_code": device_code}
    )
    assert_refused(poll)


# --- per client ------------------------------------------------------------------------------


def test_client_rate_limits_client_of_its_own_and_unlimited(client, budget, make_client, signing_keys):
    strict = make_client(
        name="Strict", redirect_uris=[], grant_types=["client_credentials"], rate_limit="1/60"
    )
    trusted = make_client(
        name="Trusted", redirect_uris=[], grant_types=["client_credentials"], rate_limit="unlimited"
    )
    usual = make_client(name="Usual", redirect_uris=[], grant_types=["client_credentials"])

    assert statuses([token(client, strict) for _ in range(2)]) == [200, 429]
    assert_refused(token(client, strict), window=60)
    assert statuses([token(client, trusted) for _ in range(BUDGET * 4)]) == [200] * BUDGET * 4
    assert statuses([token(client, usual) for _ in range(BUDGET + 1)]) == [200] * BUDGET + [429]


def test_client_rate_limits_none_by_default_when_configured_unlimited(client, settings, machine):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CLIENT_RATE_LIMIT": None}

    assert statuses([token(client, machine) for _ in range(20)]) == [200] * 20


# --- who is counted ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["token", "introspection", "revocation"])
def test_client_rate_limits_naming_a_client_does_not_spend_its_budget(client, budget, machine, endpoint):
    def attempt(secret: str, address: str):
        auth = basic_auth(machine.client_id, secret)
        if endpoint == "token":
            data, path = {"grant_type": "client_credentials"}, "/o/token/"
        else:
            data, path = (
                {"token": "no-such-token"},
                {"introspection": "/o/introspect/", "revocation": "/o/revoke/"}[endpoint],
            )
        return client.post(path, data, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address)

    # Someone who knows the client's id but not its secret hammers the endpoint in its name.
    forged = [attempt("wrong-secret-" + "x" * 32, "203.0.113.9") for _ in range(BUDGET * 3)]
    assert statuses(forged) == [401] * BUDGET + [429] * (BUDGET * 2)
    assert_refused(forged[-1])

    # The client itself still has its whole budget, from anywhere.
    honest = [attempt(machine.client_secret, "198.51.100.7") for _ in range(BUDGET + 1)]
    assert statuses(honest) == [200] * BUDGET + [429]


def test_client_rate_limits_device_authorization_counts_a_wrong_secret_per_address(
    client, budget, make_client, signing_keys
):
    cli = make_client(
        name="Deploy CLI", redirect_uris=[], post_logout_redirect_uris=[], grant_types=[DEVICE_GRANT]
    )

    def start(secret: str, address: str):
        auth = basic_auth(cli.client_id, secret)
        return client.post("/o/device/", {"scope": "openid"}, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address)

    forged = [start("wrong-secret-" + "z" * 32, "203.0.113.9") for _ in range(BUDGET + 1)]
    assert statuses(forged) == [401] * BUDGET + [429]
    assert_refused(forged[-1])
    honest = [start(cli.client_secret, "198.51.100.7") for _ in range(BUDGET + 1)]
    assert statuses(honest) == [200] * BUDGET + [429]


def test_client_rate_limits_unauthenticated_requests_count_per_address(client, budget, machine):
    wrong = "wrong-secret-" + "y" * 32
    for _ in range(BUDGET):
        assert token(client, machine, secret=wrong, REMOTE_ADDR="203.0.113.9").status_code == 401
    assert_refused(token(client, machine, secret=wrong, REMOTE_ADDR="203.0.113.9"))
    # Another address has a count of its own.
    assert token(client, machine, secret=wrong, REMOTE_ADDR="203.0.113.10").status_code == 401


def test_client_rate_limits_public_client_at_introspection_counts_per_address(client, budget, tv):
    # Introspection is for confidential clients (RFC 7662 §2.1): a public client's id buys nothing.
    calls = [
        client.post("/o/introspect/", {"token": "x", "client_id": tv.client_id}) for _ in range(BUDGET + 1)
    ]
    assert statuses(calls) == [401] * BUDGET + [429]
    assert client.post("/o/device/", {"client_id": tv.client_id, "scope": "openid"}).status_code == 200


# --- what operators see -----------------------------------------------------------------------


def test_client_rate_limits_refusals_are_counted_on_metrics(client, budget, machine, make_client):
    registered = make_client(
        name="Self-registered",
        redirect_uris=[],
        grant_types=["client_credentials"],
        registration_source=Client.RegistrationSource.DCR,
    )
    before = {
        "staff": refusals(client, "token", machine.client_id),
        "self": refusals(client, "token", "self-registered"),
        "unauthenticated": refusals(client, "revocation", "unauthenticated"),
    }
    for _ in range(BUDGET + 2):
        token(client, machine)
        token(client, registered)
    for _ in range(BUDGET + 1):
        client.post("/o/revoke/", {"token": "x"}, HTTP_AUTHORIZATION=basic_auth(machine.client_id, "w" * 40))

    assert refusals(client, "token", machine.client_id) == before["staff"] + 2
    # A self-registered client's id never becomes a label: their number has no bound.
    assert refusals(client, "token", "self-registered") == before["self"] + 2
    assert refusals(client, "token", registered.client_id) == 0
    assert refusals(client, "revocation", "unauthenticated") == before["unauthenticated"] + 1


# --- browser apps ------------------------------------------------------------------------------


def test_client_rate_limits_refusal_is_readable_by_a_browser_app(
    client, budget, make_client, signing_keys, logged_in
):
    spa = make_client(name="Browser app", public=True, allowed_origins=[ORIGIN])
    tokens = exchange(client, spa, authorize(logged_in, spa)).json()  # one of the budget
    bearer = f"Bearer {tokens['access_token']}"
    for _ in range(BUDGET - 1):
        assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer, HTTP_ORIGIN=ORIGIN).status_code == 200

    refused = client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer, HTTP_ORIGIN=ORIGIN)
    assert_refused(refused)
    assert refused["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" in refused["Access-Control-Expose-Headers"]

    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": spa.client_id,
    }
    refused = client.post("/o/token/", data, HTTP_ORIGIN=ORIGIN)
    assert_refused(refused)
    assert refused["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" in refused["Access-Control-Expose-Headers"]
    # Another origin learns nothing.
    assert "Access-Control-Allow-Origin" not in client.post(
        "/o/token/", data, HTTP_ORIGIN="https://evil.example"
    )


# --- configuration -----------------------------------------------------------------------------


def test_client_rate_limits_client_commands_set_and_show_the_limit(db, settings, signing_keys):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CLIENT_RATE_LIMIT": Rate(600, 60)}
    out = StringIO()
    call_command(
        "createclient",
        "Batch job",
        "--grant-type",
        "client_credentials",
        "--rate-limit",
        "100/10",
        "--json",
        stdout=out,
    )
    client_id = json.loads(out.getvalue())["client_id"]

    def shown() -> dict:
        out = StringIO()
        call_command("showclient", client_id, "--json", stdout=out)
        return json.loads(out.getvalue())

    assert (shown()["rate_limit"], shown()["effective_rate_limit"]) == ("100/10", "100/10")
    call_command("updateclient", client_id, "--rate-limit", "unlimited", stdout=StringIO())
    assert (shown()["rate_limit"], shown()["effective_rate_limit"]) == ("unlimited", "unlimited")
    out = StringIO()
    call_command("updateclient", client_id, "--rate-limit", "default", stdout=out)
    assert "rate_limit" in out.getvalue()
    assert (shown()["rate_limit"], shown()["effective_rate_limit"]) == ("default", "600/60")

    with pytest.raises(CommandError, match="rate_limit: write a rate as REQUESTS/SECONDS"):
        call_command("updateclient", client_id, "--rate-limit", "fast", stdout=StringIO())
    with pytest.raises(CommandError, match="rate_limit: the window must be between 1 and 86400"):
        call_command(
            "createclient",
            "Other",
            "--grant-type",
            "client_credentials",
            "--rate-limit",
            "5/0",
            stdout=StringIO(),
        )
    assert shown()["rate_limit"] == "default"
    assert not Client.objects.filter(name="Other").exists()


def test_client_rate_limits_admin_edits_the_limit(staff, client, budget, rp):
    page = staff.get(f"/admin/oidc_provider/client/{rp.model.pk}/change/").content.decode()
    assert 'name="rate_limit"' in page and "REQUESTS/SECONDS" in page

    refused = change_client_in_admin(staff, rp.model, rate_limit="fast")
    assert "write a rate as REQUESTS/SECONDS" in refused.content.decode()
    assert statuses([revoke(client, rp) for _ in range(BUDGET)]) == [200] * BUDGET

    assert change_client_in_admin(staff, rp.model, rate_limit="5/60").status_code == 302
    assert statuses([revoke(client, rp) for _ in range(3)]) == [200, 200, 429]


def test_client_rate_limits_setting_refuses_a_bad_value(settings):
    env = {**os.environ, "PORCHLIGHT_CLIENT_RATE_LIMIT": "600 per minute"}
    manage = settings.BASE_DIR / "manage.py"
    result = subprocess.run(
        [sys.executable, str(manage), "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "PORCHLIGHT_CLIENT_RATE_LIMIT: write a rate as REQUESTS/SECONDS" in result.stderr


def test_client_rate_limits_housekeeping_prunes_ended_windows(client, settings, machine, clock):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CLIENT_RATE_LIMIT": Rate(BUDGET, 60)}
    assert token(client, machine).status_code == 200
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "client_request_counts: 0" in out.getvalue()

    clock.advance(61)
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "client_request_counts: 1" in out.getvalue()


# --- concurrency --------------------------------------------------------------------------------


def tokens_at_once(base: str, job, count: int) -> list:
    """Send ``count`` client_credentials requests for ``job`` to the live server at the same moment."""
    auth = basic_auth(job.client_id, job.client_secret)
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def post(index: int) -> None:
        barrier.wait()
        responses[index] = requests.post(
            f"{base}/o/token/",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": auth},
            timeout=60,
        )

    threads = [threading.Thread(target=post, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@concurrent_database
def test_client_rate_limits_concurrent_requests_get_exactly_the_budget(
    live_server, transactional_db, budget, settings, monkeypatch, make_client, signing_keys
):
    # As tests/e2e/conftest.py's issuer: no idle PostgreSQL session may outlive the test.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    limit, requests_sent = 5, 16
    job = make_client(
        name="Busy job", redirect_uris=[], grant_types=["client_credentials"], rate_limit=f"{limit}/3600"
    )
    responses = tokens_at_once(live_server.url, job, requests_sent)

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] * limit + [429] * (requests_sent - limit)
    for response in responses:
        if response.status_code == 429:
            assert response.json()["error"] == "too_many_requests"
            assert 1 <= int(response.headers["Retry-After"]) <= 3600


# --- large budgets, counted a lease at a time ----------------------------------------------------


@pytest.fixture
def leased(settings):
    """Counts in the database, this process holding no lease from an earlier test."""
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CACHE_THROTTLE": False}
    leases_forget()
    yield
    leases_forget()


def counted_already(registered, count: int) -> None:
    """Start the client's window as if other nodes had counted ``count`` requests in it."""
    now_ms = int(timezone.now().timestamp() * 1000)
    ClientRequestCount.objects.create(
        key=f"c:{registered.model.pk}", count=count, expires=now_ms + WINDOW * 1000
    )


def test_client_rate_limits_large_budget_lets_exactly_the_budget_through(
    client, leased, make_client, signing_keys
):
    limit = 32_000  # counted 32 requests at a time
    job = make_client(
        name="Busy", redirect_uris=[], grant_types=["client_credentials"], rate_limit=f"{limit}/{WINDOW}"
    )
    counted_already(job, limit - 40)

    responses = [token(client, job) for _ in range(42)]

    assert statuses(responses) == [200] * 40 + [429, 429]
    assert_refused(responses[-1])


def test_client_rate_limits_large_budget_unserved_lease_is_lost_never_overspent(
    client, leased, make_client, signing_keys
):
    limit = 32_000
    job = make_client(
        name="Busy", redirect_uris=[], grant_types=["client_credentials"], rate_limit=f"{limit}/{WINDOW}"
    )
    counted_already(job, limit - 40)
    assert token(client, job).status_code == 200
    # The worker that counted 32 stops (a restart); its other 31 are not served by anyone.
    leases_forget()

    responses = [token(client, job) for _ in range(10)]

    assert statuses(responses) == [200] * 8 + [429, 429]


@concurrent_database
def test_client_rate_limits_large_budget_concurrent_requests_get_exactly_the_budget(
    live_server, transactional_db, leased, monkeypatch, make_client, signing_keys
):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    limit, left, requests_sent = 32_000, 5, 16
    job = make_client(
        name="Busy job", redirect_uris=[], grant_types=["client_credentials"], rate_limit=f"{limit}/3600"
    )
    counted_already(job, limit - left)
    responses = tokens_at_once(live_server.url, job, requests_sent)

    assert sorted(response.status_code for response in responses) == [200] * left + [429] * (
        requests_sent - left
    )
