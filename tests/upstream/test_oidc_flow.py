"""Sign-in through an OpenID upstream that can misbehave (tests/upstream_server.py), with the test client.

What the person sees at each failure is a plain page with the way back to the sign-in page, an
audit entry, no 500 and no account made; what a good sign-in gives is an account, a session
and honest amr/acr in the ID tokens issued afterwards.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from accounts import encryption
from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import authorize, exchange, validate_id_token
from tests.upstream.helpers import auth_context, callback_path, round_trip, start
from upstream import clients
from upstream.models import LinkedIdentity, UpstreamProvider


def failure_reasons() -> list[str]:
    return [event.detail["reason"] for event in AuditEvent.objects.filter(action="upstream.failure")]


def assert_failure_page(response, status: int, text: str) -> None:
    assert response.status_code == status, response.content[:500]
    page = response.content.decode()
    assert "Sign-in did not complete" in page
    assert text in page
    assert "Back to sign-in" in page and "/accounts/login/" in page


def test_start_sends_state_nonce_and_pkce_s256(client, corp, fake_oidc):
    location = start(client, "corp")
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert location.startswith(fake_oidc.url + "/authorize?")
    assert query["client_id"] == "porchlight-downstream"
    assert query["redirect_uri"] == "http://127.0.0.1:8000/upstream/corp/callback/"
    assert query["response_type"] == "code"
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    # A second button press makes a fresh state and nonce.
    again = parse_qs(urlsplit(start(client, "corp")).query)
    assert again["state"][0] != query["state"] and again["nonce"][0] != query["nonce"]


def test_new_person_gets_an_account_and_a_session(client, corp, fake_oidc):
    response = round_trip(client, "corp", next_url="/accounts/profile/")
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    user = User.objects.get(email="new.person@example.org")
    assert (user.first_name, user.last_name, user.email_verified) == ("New", "Person", True)
    assert not user.has_usable_password()
    assert LinkedIdentity.objects.get(user=user, provider=corp).subject == "upstream-user-1"
    assert auth_context(client)["amr"] == ["fed"]
    assert client.get("/accounts/").status_code == 200
    assert AuditEvent.objects.filter(action="upstream.account_create", target_id=str(user.pk)).exists()
    # Signing in again reaches the same account through the link.
    client.post("/accounts/logout/")
    assert round_trip(client, "corp").status_code == 302
    assert User.objects.filter(email="new.person@example.org").count() == 1
    assert client.get("/accounts/").status_code == 200


def test_id_tokens_after_an_upstream_sign_in_carry_fed_amr(client, corp, rp):
    round_trip(client, "corp")
    result = authorize(client, rp, scope="openid email")
    token = exchange(client, rp, result).json()
    claims = validate_id_token(
        token["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id, nonce=result.nonce
    )
    assert claims["amr"] == ["fed"]
    assert claims["acr"] == "pwd"


def test_no_account_is_made_when_the_provider_may_not(client, corp):
    corp.may_create_accounts = False
    corp.save()
    assert_failure_page(round_trip(client, "corp"), 400, "No account here goes with your Corp sign-in")
    assert not User.objects.exists()
    assert failure_reasons() == ["no_account"]


def test_no_account_is_made_for_another_domain(client, corp, fake_oidc):
    fake_oidc.behaviour.claims = {"email": "someone@elsewhere.com"}
    assert_failure_page(round_trip(client, "corp"), 400, "Accounts are not made here")
    assert not User.objects.exists()
    assert failure_reasons() == ["domain_not_allowed"]


def test_unverified_address_signs_nobody_in(client, corp, fake_oidc, user):
    # Even an address an account has: an unverified one proves nothing.
    fake_oidc.behaviour.claims = {"email": "alice@example.com", "email_verified": False}
    assert_failure_page(round_trip(client, "corp"), 400, "did not confirm your e-mail address")
    assert User.objects.count() == 1 and not LinkedIdentity.objects.exists()
    assert failure_reasons() == ["email_unverified"]
    assert client.get("/accounts/").status_code == 302


def test_wrong_state_is_refused(client, corp):
    start(client, "corp")
    response = client.get("/upstream/corp/callback/?code=abc&state=not-the-one-sent")
    assert_failure_page(response, 400, "already used or did not start here")
    assert failure_reasons() == ["state"]


def test_replayed_callback_is_refused(client, corp, fake_oidc):
    upstream = requests.get(start(client, "corp"), allow_redirects=False, timeout=10)
    path = callback_path(upstream.headers["Location"])
    assert client.get(path).status_code == 302
    client.post("/accounts/logout/")
    assert_failure_page(client.get(path), 400, "already used or did not start here")
    assert client.get("/accounts/").status_code == 302


def test_replayed_id_token_is_refused(client, corp, fake_oidc):
    assert round_trip(client, "corp").status_code == 302
    client.post("/accounts/logout/")
    # The upstream (or someone between) answers the next sign-in with the earlier ID token.
    fake_oidc.behaviour.token = "replay"
    assert_failure_page(round_trip(client, "corp"), 400, "could not be verified")
    assert failure_reasons() == ["invalid_token"]
    assert client.get("/accounts/").status_code == 302


@pytest.mark.parametrize("mode", ["wrong_key", "wrong_audience", "expired", "no_id_token"])
def test_invalid_id_token_is_refused(client, corp, fake_oidc, mode):
    fake_oidc.behaviour.token = mode
    assert_failure_page(round_trip(client, "corp"), 400, "could not be verified")
    assert not User.objects.exists() and not LinkedIdentity.objects.exists()
    assert failure_reasons() == ["invalid_token"]


def test_upstream_error_at_token_endpoint(client, corp, fake_oidc):
    fake_oidc.behaviour.token = "error"
    assert_failure_page(round_trip(client, "corp"), 502, "could not be reached")
    assert not User.objects.exists()
    assert failure_reasons() == ["unreachable"]


def test_slow_upstream_gives_up_in_time(client, corp, fake_oidc, monkeypatch):
    monkeypatch.setattr(clients, "TIMEOUT", 0.5)
    fake_oidc.behaviour.token, fake_oidc.behaviour.slow_seconds = "slow", 2
    assert_failure_page(round_trip(client, "corp"), 502, "did not answer in time")
    assert not User.objects.exists()


def test_upstream_refusal_is_shown(client, corp):
    state = parse_qs(urlsplit(start(client, "corp")).query)["state"][0]
    response = client.get(f"/upstream/corp/callback/?error=access_denied&state={state}")
    assert_failure_page(response, 400, "Corp did not sign you in")
    assert failure_reasons() == ["upstream_error"]


def test_upstream_down_at_the_button(client, db):
    from tests.cluster import free_port
    from tests.upstream.helpers import provider_create

    provider_create(
        slug="down",
        discovery_url=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        client_id="x",
        secret="y",
    )
    response = client.get("/upstream/down/start/?next=/accounts/profile/")
    assert_failure_page(response, 502, "could not be reached")
    assert "/accounts/login/?next=%2Faccounts%2Fprofile%2F" in response.content.decode()
    assert failure_reasons() == ["unreachable"]


def test_unknown_or_disabled_provider_is_404(client, corp):
    assert client.get("/upstream/nobody/start/").status_code == 404
    UpstreamProvider.objects.filter(pk=corp.pk).update(enabled=False)
    assert client.get("/upstream/corp/start/").status_code == 404


def test_offsite_next_is_not_followed(client, corp):
    response = round_trip(client, "corp", next_url="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/accounts/"


def test_sign_in_page_shows_the_buttons_keeping_next(client, corp):
    next_url = "/o/authorize/?client_id=abc&scope=openid"
    page = client.get("/accounts/login/", {"next": next_url}).content.decode()
    assert "Sign in with Corp" in page
    assert "/upstream/corp/start/?next=%2Fo%2Fauthorize%2F%3Fclient_id%3Dabc%26scope%3Dopenid" in page


def test_wrong_client_secret_is_an_upstream_refusal(client, corp):
    corp.client_secret_encrypted = encryption.encrypt(b"not the secret the upstream gave")
    corp.save()
    assert_failure_page(round_trip(client, "corp"), 400, "Corp did not sign you in")
    assert not User.objects.exists()
    assert failure_reasons() == ["upstream_error"]


def test_response_from_another_issuer_is_refused(client, corp, fake_oidc):
    # RFC 9207 §2.4 (mix-up): the iss in the authorization response must be the upstream's.
    upstream = requests.get(start(client, "corp"), allow_redirects=False, timeout=10)
    path = callback_path(upstream.headers["Location"]) + "&iss=https%3A%2F%2Fother.example"
    assert_failure_page(client.get(path), 400, "could not be verified")
    assert "POST /token" not in fake_oidc.requests
    assert not User.objects.exists()
