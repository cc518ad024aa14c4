"""Single-use credentials under concurrent requests against the live server (RFC 6749 §4.1.2, §10.5).

The requests race for real: each is its own HTTP connection, served on its own server thread and
database connection. On PostgreSQL the row locks decide the winner.
"""

import requests

from oidc_provider.models import AccessToken, RefreshToken
from tests.conftest import concurrent_database
from tests.e2e.conftest import authorization_request, query_of, race, sign_in_for_tokens

pytestmark = concurrent_database

RACERS = 10


def test_race_one_code_redeemed_concurrently_gives_exactly_one_token_set(browser, metadata, rp_client, user):
    request = authorization_request(
        metadata["authorization_endpoint"], rp_client, scope="openid offline_access"
    )
    code = query_of(browser.sign_in(request.url))["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp_client.redirect_uri,
        "code_verifier": request.verifier,
    }

    def redeem() -> requests.Response:
        auth = (rp_client.client_id, rp_client.client_secret)
        return requests.post(metadata["token_endpoint"], data=data, auth=auth, timeout=30)

    responses = race(RACERS, redeem)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * (RACERS - 1), [r.text[:200] for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    # The losers were replays: RFC 6749 §4.1.2 says revoke what the code issued, so no token
    # the winner got survives, and no request minted a second set (no orphan rows).
    assert AccessToken.objects.count() == 0
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert RefreshToken.objects.count() <= 1


def refresh_all_at_once(metadata, client, refresh_token: str) -> list[requests.Response]:
    def send() -> requests.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        auth = (client.client_id, client.client_secret)
        return requests.post(metadata["token_endpoint"], data=data, auth=auth, timeout=30)

    return race(RACERS, send)


def test_race_one_refresh_token_sent_concurrently_has_one_successor(browser, metadata, rp_client, user):
    tokens = sign_in_for_tokens(browser, metadata, rp_client, scope="openid offline_access")
    responses = refresh_all_at_once(metadata, rp_client, tokens["refresh_token"])
    # Within the grace window every retry is answered with the one successor (RFC 9700 §4.14.2).
    assert [response.status_code for response in responses] == [200] * RACERS, [r.text for r in responses]
    assert len({response.json()["refresh_token"] for response in responses}) == 1
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert AccessToken.objects.count() == 1


def test_race_refresh_reuse_without_grace_leaves_no_survivor(browser, metadata, rp_client, user, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "REFRESH_REUSE_GRACE": 0}
    tokens = sign_in_for_tokens(browser, metadata, rp_client, scope="openid offline_access")
    responses = refresh_all_at_once(metadata, rp_client, tokens["refresh_token"])
    statuses = sorted(response.status_code for response in responses)
    # One request rotated; every other one was a reuse, which revokes the family - the new
    # successor included. Never a 500, never a successor minted into a revoked family.
    assert statuses == [200] + [400] * (RACERS - 1), [r.text[:200] for r in responses]
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not AccessToken.objects.exists()
