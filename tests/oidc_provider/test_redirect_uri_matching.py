"""Redirect URI matching at the authorization endpoint (RFC 9700 §2.1, RFC 8252 §7.3)."""

import pytest

from tests.conftest import pkce_pair, query_of

AUTHORIZE = "/o/authorize/"


def authorization_request(client_id: str, redirect_uri: str) -> dict:
    _verifier, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": "st",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": "none",
    }


def assert_refused(response) -> None:
    """The user sees an error page; nothing is sent to the unregistered address."""
    assert response.status_code == 400
    assert "Location" not in response
    assert b"We could not sign you in" in response.content


def assert_answered_at(response, redirect_uri: str) -> None:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith(redirect_uri + "?")
    assert query_of(response["Location"])["error"] == "login_required"


@pytest.mark.parametrize(
    "registered, requested",
    [
        ("http://127.0.0.1:8080/callback", "http://127.0.0.1:9999/callback"),
        ("http://127.0.0.1/callback", "http://127.0.0.1:4444/callback"),
        ("http://[::1]:8080/callback", "http://[::1]:1234/callback"),
    ],
)
def test_authorize_confidential_client_loopback_redirect_needs_exact_port(
    registered, requested, make_client, signing_keys, browser
):
    confidential = make_client(redirect_uris=[registered])
    response = browser.get(AUTHORIZE, authorization_request(confidential.client_id, requested))
    assert_refused(response)
    exact = browser.get(AUTHORIZE, authorization_request(confidential.client_id, registered))
    assert_answered_at(exact, registered)


@pytest.mark.parametrize(
    "registered, requested",
    [
        ("http://127.0.0.1/callback", "http://127.0.0.1:51234/callback"),
        ("http://127.0.0.1:8080/callback", "http://127.0.0.1:51234/callback"),
        ("http://[::1]/callback", "http://[::1]:51234/callback"),
    ],
)
def test_authorize_public_client_loopback_redirect_accepts_any_port(
    registered, requested, make_client, signing_keys, browser
):
    native = make_client(redirect_uris=[registered], public=True)
    response = browser.get(AUTHORIZE, authorization_request(native.client_id, requested))
    assert_answered_at(response, requested)


@pytest.mark.parametrize(
    "requested",
    [
        "http://127.0.0.1:51234/other",
        "http://localhost:51234/callback",
        "https://127.0.0.1:51234/callback",
        "http://127.0.0.1:51234/callback?extra=1",
    ],
)
def test_authorize_public_client_loopback_port_is_the_only_variable_part(
    requested, make_client, signing_keys, browser
):
    native = make_client(redirect_uris=["http://127.0.0.1/callback"], public=True)
    assert_refused(browser.get(AUTHORIZE, authorization_request(native.client_id, requested)))


def test_authorize_public_client_https_redirect_needs_exact_port(make_client, signing_keys, browser):
    native = make_client(redirect_uris=["https://app.example.com/callback"], public=True)
    requested = "https://app.example.com:8443/callback"
    assert_refused(browser.get(AUTHORIZE, authorization_request(native.client_id, requested)))


def test_end_session_confidential_client_post_logout_loopback_needs_exact_port(
    make_client, signing_keys, browser
):
    confidential = make_client(
        redirect_uris=["https://rp.example.com/callback"],
        post_logout_redirect_uris=["http://127.0.0.1:8080/logged-out"],
    )
    response = browser.get(
        "/o/logout/",
        {"client_id": confidential.client_id, "post_logout_redirect_uri": "http://127.0.0.1:9999/logged-out"},
    )
    assert response.status_code == 400
    assert "Location" not in response
    exact = browser.get(
        "/o/logout/",
        {"client_id": confidential.client_id, "post_logout_redirect_uri": "http://127.0.0.1:8080/logged-out"},
    )
    assert exact.status_code == 302
    assert exact["Location"].startswith("http://127.0.0.1:8080/logged-out")
