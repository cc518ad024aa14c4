"""/metrics: Prometheus text behind a token or an allow-list, with counters that move."""

import re

import pytest
from django.test import Client as HttpClient

from tests.conftest import PASSWORD, authorize, exchange

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "METRICS_TOKEN": TOKEN, "METRICS_ALLOWED_NETWORKS": []}


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    """Return the sample ``name{labels}`` from an exposition, 0 when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if line.startswith(name + "{") and found != labels:
            continue
        if not line.startswith(name + "{") and labels:
            continue
        return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_refuses_a_stranger_without_the_token(client, metrics_token):
    assert client.get("/metrics").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token")
    assert response.status_code == 403
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_metrics_answers_an_allowed_address_without_a_token(client):
    # The default allow-list is loopback; the test client's REMOTE_ADDR is 127.0.0.1.
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "porchlight_http_requests_total" in response.content.decode()


@pytest.mark.django_db
def test_metrics_count_requests_by_endpoint_and_status(client, metrics_token):
    before = value(scrape(client), "porchlight_http_requests_total", endpoint="healthz", status="200")
    client.get("/healthz")
    client.get("/healthz")
    text = scrape(client)
    assert value(text, "porchlight_http_requests_total", endpoint="healthz", status="200") == before + 2
    assert value(text, "porchlight_http_request_duration_seconds_count", endpoint="healthz") >= 2


def test_metrics_count_sign_ins_by_outcome(browser, user, metrics_token, settings):
    text = scrape(browser)
    success = value(text, "porchlight_sign_ins_total", outcome="success")
    failure = value(text, "porchlight_sign_ins_total", outcome="failure")
    lockout = value(text, "porchlight_sign_ins_total", outcome="lockout")
    other = HttpClient()
    for _ in range(settings.PORCHLIGHT["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        other.post("/accounts/login/", {"username": "alice", "password": "wrong password"})
    text = scrape(browser)
    assert value(text, "porchlight_sign_ins_total", outcome="failure") > failure
    assert value(text, "porchlight_sign_ins_total", outcome="lockout") == lockout + 1
    assert value(text, "porchlight_sign_ins_total", outcome="success") == success


def test_metrics_count_consents_and_tokens_by_grant_type(browser, user, rp, metrics_token):
    text = scrape(browser)
    consents = value(text, "porchlight_consents_total")
    codes = value(text, "porchlight_tokens_issued_total", grant_type="authorization_code")
    browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    result = authorize(browser, rp, scope="openid")
    assert exchange(HttpClient(), rp, result).status_code == 200
    text = scrape(browser)
    assert value(text, "porchlight_consents_total") == consents + 1
    assert value(text, "porchlight_tokens_issued_total", grant_type="authorization_code") == codes + 1


@pytest.mark.django_db
def test_metrics_report_the_age_of_each_active_key(client, signing_keys, metrics_token):
    text = scrape(client)
    for algorithm in ("RS256", "ES256"):
        assert 0 <= value(text, "porchlight_signing_key_age_seconds", algorithm=algorithm) < 60


def test_metrics_report_the_background_queue(db, client, metrics_token):
    from oidc_provider.housekeeping import housekeeping_schedule

    before = value(scrape(client), "porchlight_background_tasks", status="READY")
    assert housekeeping_schedule()
    text = scrape(client)
    assert value(text, "porchlight_background_tasks", status="READY") == before + 1
    assert value(text, "porchlight_logout_deliveries", state="failed") == 0
    assert 'porchlight_logout_deliveries{state="failed"}' in text
