"""/metrics behind a proxy on the same host: the allow-list is judged on the client, not the proxy."""

import ipaddress

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"
PROXY = "127.0.0.1"
OUTSIDE = "203.0.113.9"
MONITORING = "10.20.30.40"


@pytest.fixture
def behind_proxy(settings):
    """Porchlight behind a proxy on this host (the default trusted proxy), scraped from 10.0.0.0/8."""
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "BEHIND_PROXY": True,
        "TRUSTED_PROXIES": [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")],
        "METRICS_TOKEN": TOKEN,
        "METRICS_ALLOWED_NETWORKS": [
            ipaddress.ip_network("127.0.0.0/8"),
            ipaddress.ip_network("::1/128"),
            ipaddress.ip_network("10.0.0.0/8"),
        ],
    }


def scrape(client, *, forwarded_for: str | None = None, token: str | None = None, **headers):
    """Scrape /metrics as the proxy passes it on: from loopback, naming the client it received."""
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get("/metrics", REMOTE_ADDR=PROXY, **headers)


def test_metrics_refuses_an_outsider_who_comes_through_the_proxy(client, behind_proxy):
    response = scrape(client, forwarded_for=OUTSIDE)
    assert response.status_code == 403
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "porchlight_http_requests_total" not in response.content.decode()


def test_metrics_refuses_an_outsider_who_names_an_allowed_address_left_of_its_own(client, behind_proxy):
    # The proxy appends the address it saw; whatever the client wrote before it is its own say-so.
    assert scrape(client, forwarded_for=f"{MONITORING}, {OUTSIDE}").status_code == 403
    assert scrape(client, forwarded_for=f"127.0.0.1, {OUTSIDE}").status_code == 403


def test_metrics_answers_an_outsider_through_the_proxy_with_the_token(client, behind_proxy):
    response = scrape(client, forwarded_for=OUTSIDE, token=TOKEN)
    assert response.status_code == 200
    assert "porchlight_http_requests_total" in response.content.decode()


def test_metrics_answers_an_allowed_client_through_the_proxy_without_the_token(client, behind_proxy):
    assert scrape(client, forwarded_for=MONITORING).status_code == 200
    # A scraper on the proxy's own host, through the proxy, and one that skips the proxy.
    assert scrape(client, forwarded_for=PROXY).status_code == 200
    assert scrape(client).status_code == 200


def test_metrics_refuses_a_forwarded_outsider_when_the_proxy_was_not_declared(client, behind_proxy, settings):
    # Without PORCHLIGHT_BEHIND_PROXY the X-Forwarded-For is not read, so the loopback peer
    # cannot be told apart from the outsider it forwards: refused unless it has the token.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "BEHIND_PROXY": False}
    assert scrape(client, forwarded_for=OUTSIDE).status_code == 403
    assert scrape(client, forwarded_for=OUTSIDE, token=TOKEN).status_code == 200
    assert scrape(client).status_code == 200


def test_metrics_refuses_a_scrape_that_names_its_client_only_in_a_forwarded_header(client, behind_proxy):
    # RFC 7239 Forwarded is not read, so the client it names is unknown.
    assert scrape(client, HTTP_FORWARDED=f"for={OUTSIDE}").status_code == 403
    assert scrape(client, HTTP_FORWARDED=f"for={OUTSIDE}", token=TOKEN).status_code == 200
