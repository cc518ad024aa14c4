"""A dynamic client manages its registration over HTTP (RFC 7591, RFC 7592), against the live server.

The client registers with ``requests`` as a real dynamic client does, reads its registration
back, replaces it (its registration access token rotates; the old one is refused), gets signed
UserInfo it verifies against JWKS with pyjwt, and deletes itself: then its token, its client
credentials and the tokens it held are all refused.
"""

from datetime import timedelta

import jwt as pyjwt
import requests
from django.utils import timezone

from oidc_provider.registration import registration_token_create
from tests.conftest import concurrent_database
from tests.e2e.conftest import REDIRECT_URI, E2EClient, race, sign_in_for_tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_dynamic_client_reads_updates_and_deletes_its_registration(issuer, metadata, browser, user):
    # Staff hand the app an initial access token (RFC 7591 §3).
    _, initial = registration_token_create(label="e2e", expires=timezone.now() + timedelta(hours=1))
    registered = requests.post(
        metadata["registration_endpoint"],
        json={
            "client_name": "Self-made app",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
        },
        headers=bearer(initial),
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    body = registered.json()
    uri, token = body["registration_client_uri"], body["registration_access_token"]
    assert uri == f"{issuer}/o/register/{body['client_id']}/"

    # RFC 7592 §2.1: read.
    read = requests.get(uri, headers=bearer(token), timeout=10)
    assert read.status_code == 200
    assert read.headers["Cache-Control"] == "no-store"
    current = read.json()
    assert current["client_name"] == "Self-made app" and "client_secret" not in current

    app = E2EClient(body["client_id"], body["client_secret"], REDIRECT_URI, "")
    tokens = sign_in_for_tokens(browser, metadata, app, scope="openid email")

    # RFC 7592 §2.2: replace, asking for signed UserInfo; the token rotates.
    document = {
        key: value
        for key, value in current.items()
        # RFC 7592 §2.2: what the server issued is left out.
        if key not in {"registration_client_uri", "client_id_issued_at"}
    }
    document.update(client_name="Self-made app v2", userinfo_signed_response_alg="ES256")
    updated = requests.put(uri, json=document, headers=bearer(token), timeout=10)
    assert updated.status_code == 200, updated.text
    new_token = updated.json()["registration_access_token"]
    assert new_token != token
    stale = requests.get(uri, headers=bearer(token), timeout=10)
    assert stale.status_code == 401
    assert stale.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in stale.headers["WWW-Authenticate"]
    fresh = requests.get(uri, headers=bearer(new_token), timeout=10).json()
    assert fresh["client_name"] == "Self-made app v2"
    assert fresh["userinfo_signed_response_alg"] == "ES256"

    # OIDC Core 1.0 §5.3.2: UserInfo is now a JWT, verified against the published keys.
    userinfo = requests.get(metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]), timeout=10)
    assert userinfo.status_code == 200
    assert userinfo.headers["Content-Type"] == "application/jwt"
    signing_key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(userinfo.text)
    claims = pyjwt.decode(
        userinfo.text,
        signing_key.key,
        algorithms=["ES256"],
        audience=app.client_id,
        issuer=metadata["issuer"],
    )
    assert claims["sub"] and claims["email"]

    # RFC 7592 §2.3: delete.
    deleted = requests.delete(uri, headers=bearer(new_token), timeout=10)
    assert deleted.status_code == 204
    assert requests.get(uri, headers=bearer(new_token), timeout=10).status_code == 401
    refreshed = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert refreshed.status_code == 401 and refreshed.json()["error"] == "invalid_client"
    gone = requests.get(metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]), timeout=10)
    assert gone.status_code == 401


@concurrent_database
def test_race_one_registration_access_token_rotates_once(metadata):
    # RFC 7592 §2.2: an update rotates the registration access token; two updates sent at once
    # with the same token must not both be answered with a new token, or the old one bought two.
    racers = 10
    _, initial = registration_token_create(label="e2e", expires=timezone.now() + timedelta(hours=1))
    registered = requests.post(
        metadata["registration_endpoint"],
        json={"client_name": "Racing app", "redirect_uris": [REDIRECT_URI]},
        headers=bearer(initial),
        timeout=10,
    ).json()
    uri, token = registered["registration_client_uri"], registered["registration_access_token"]
    document = {"client_id": registered["client_id"], "redirect_uris": [REDIRECT_URI]}

    def update() -> requests.Response:
        return requests.put(
            uri, json={**document, "client_name": "Racing app v2"}, headers=bearer(token), timeout=30
        )

    responses = race(racers, update)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (racers - 1), [r.text[:200] for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 401} == {"invalid_token"}
    (winner,) = (r.json()["registration_access_token"] for r in responses if r.status_code == 200)
    assert requests.get(uri, headers=bearer(winner), timeout=10).status_code == 200
    assert requests.get(uri, headers=bearer(token), timeout=10).status_code == 401
