"""An upstream's back-channel logout (OIDC Back-Channel Logout 1.0 §2.5-§2.8) ends the sessions it began."""

import json

import pytest
from jwcrypto import jwt

from accounts.models import LoginSession
from audit.models import AuditEvent
from oidc_provider.models import LogoutDelivery
from tests.conftest import authorize, exchange
from tests.upstream.helpers import round_trip

URL = "/upstream/corp/backchannel-logout/"


@pytest.fixture
def signed_in(client, corp, fake_oidc):
    """A browser signed in through the upstream's session "up-sid-1"."""
    fake_oidc.behaviour.claims = {"sid": "up-sid-1"}
    round_trip(client, "corp")
    assert client.get("/accounts/").status_code == 200
    return client


def test_logout_token_ends_the_session_and_signs_the_browser_out(signed_in, client, fake_oidc, receiver, rp):
    rp.model.backchannel_logout_uri = receiver.url
    rp.model.save()
    result = authorize(signed_in, rp, scope="openid")
    assert exchange(signed_in, rp, result).status_code == 200
    session = LoginSession.objects.get(ended__isnull=True)
    token = fake_oidc.logout_token(sub="upstream-user-1", sid="up-sid-1")
    response = client.post(URL, {"logout_token": token})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    session.refresh_from_db()
    assert session.ended is not None
    # The browser's session is gone with it.
    assert signed_in.get("/accounts/").status_code == 302
    # Porchlight's own app is told, as on single sign-out (a delivery queued for its back channel).
    assert LogoutDelivery.objects.filter(sid=session.sid, client=rp.model).exists()
    event = AuditEvent.objects.get(action="upstream.logout")
    assert event.detail["sessions"] == 1


def test_logout_token_for_another_session_ends_nothing(signed_in, client, fake_oidc):
    response = client.post(URL, {"logout_token": fake_oidc.logout_token(sid="some-other-sid")})
    assert response.status_code == 200
    assert LoginSession.objects.filter(ended__isnull=True).count() == 1


def test_logout_token_with_sub_only_ends_all_of_that_users_sessions(signed_in, client, fake_oidc):
    response = client.post(URL, {"logout_token": fake_oidc.logout_token(sub="upstream-user-1")})
    assert response.status_code == 200
    assert not LoginSession.objects.filter(ended__isnull=True).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"nonce": "abc"},
        {"events": {}},
        {"events": {"http://schemas.openid.net/event/backchannel-logout": "yes"}},
        {"aud": "another-client"},
        {"iss": "https://someone.else"},
        {"sid": None, "sub": None},
        {"jti": None},
        {"iat": None},
    ],
    ids=["nonce", "no-event", "event-not-object", "audience", "issuer", "no-sub-no-sid", "no-jti", "no-iat"],
)
def test_invalid_logout_token_is_refused(signed_in, client, fake_oidc, change):
    claims = {"sid": "up-sid-1", **change}
    token = fake_oidc.logout_token(**{key: value for key, value in claims.items() if value is not None})
    for key in [key for key, value in change.items() if value is None]:
        token = _without(fake_oidc, token, key)
    response = client.post(URL, {"logout_token": token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert LoginSession.objects.filter(ended__isnull=True).count() == 1


def _without(fake_oidc, token: str, claim: str) -> str:
    """Re-sign ``token`` by the upstream without ``claim``."""
    claims = json.loads(jwt.JWT(jwt=token, key=fake_oidc.key).claims)
    claims.pop(claim, None)
    signed = jwt.JWT(header={"alg": "RS256", "kid": fake_oidc.key.key_id}, claims=claims)
    signed.make_signed_token(fake_oidc.key)
    return signed.serialize()


def test_mis_signed_logout_token_is_refused(signed_in, client, fake_oidc):
    token = jwt.JWT(
        header={"alg": "RS256", "kid": fake_oidc.key.key_id},
        claims=jwt.JWT(jwt=fake_oidc.logout_token(sid="up-sid-1"), key=fake_oidc.key).claims,
    )
    token.make_signed_token(fake_oidc.stray_key)
    assert client.post(URL, {"logout_token": token.serialize()}).status_code == 400
    assert client.post(URL, {"logout_token": "not.a.jwt"}).status_code == 400
    assert client.post(URL, {}).status_code == 400
    assert LoginSession.objects.filter(ended__isnull=True).count() == 1


def test_replayed_logout_token_is_refused(signed_in, client, fake_oidc):
    token = fake_oidc.logout_token(sid="no-such-session")
    assert client.post(URL, {"logout_token": token}).status_code == 200
    assert client.post(URL, {"logout_token": token}).status_code == 400


def test_back_channel_logout_takes_post_only(client, corp):
    assert client.get(URL).status_code == 405
