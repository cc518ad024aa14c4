"""A real relying party (Authlib) against the provider on a live HTTP server."""

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from tests.e2e.conftest import (
    POST_LOGOUT_REDIRECT_URI,
    SCOPE,
    Browser,
    E2EClient,
    query_of,
    verify_id_token,
)


def rp_session(client: E2EClient, scope: str = SCOPE) -> OAuth2Session:
    return OAuth2Session(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope=scope,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
    )


def authorization_url(session: OAuth2Session, metadata: dict, **extra) -> tuple[str, str, str, str]:
    """Return (url, state, nonce, code_verifier) for a PKCE S256 authorization request."""
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    return url, state, nonce, verifier


def sign_in_and_fetch_token(browser: Browser, session: OAuth2Session, metadata: dict) -> tuple[dict, str]:
    url, _state, nonce, verifier = authorization_url(session, metadata)
    location = browser.sign_in(url)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    return token, nonce


def test_authlib_rp_completes_the_full_session_lifecycle(
    browser, issuer, metadata, rp_client, user, settings
):
    session = rp_session(rp_client)

    # Authorization request with PKCE S256, nonce and state, answered through the real pages.
    url, state, nonce, verifier = authorization_url(session, metadata)
    login_page = browser.get(url)
    assert login_page.status_code == 200
    assert login_page.url.startswith(f"{issuer}/accounts/login/?next=")
    consent_page = browser.log_in(login_page)
    assert consent_page.url.startswith(metadata["authorization_endpoint"])
    assert "Example RP" in consent_page.text
    response = browser.answer_consent(consent_page)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(rp_client.redirect_uri + "?")
    callback = query_of(location)
    assert callback["state"] == state
    assert callback["iss"] == issuer  # RFC 9207

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer"
    assert set(token["scope"].split()) == set(SCOPE.split())
    assert token["refresh_token"]
    claims = verify_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=rp_client.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["iss"] == issuer
    assert claims["sub"] == user.subject
    assert claims["email"] == "alice@example.com"
    assert claims["amr"] == ["pwd"]

    userinfo = session.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200
    profile = userinfo.json()
    assert profile["sub"] == claims["sub"]
    assert profile["email"] == "alice@example.com"
    assert profile["email_verified"] is True
    assert profile["given_name"] == "Alice"
    assert profile["family_name"] == "Liddell"
    assert "phone_number" not in profile

    # Refresh: new tokens (rotation), a fresh ID token for the same user; the old one is spent.
    old_refresh_token = token["refresh_token"]
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != old_refresh_token
    refreshed_claims = verify_id_token(
        refreshed["id_token"],
        metadata=metadata,
        client_id=rp_client.client_id,
        nonce=None,
        access_token=refreshed["access_token"],
    )
    assert refreshed_claims["sub"] == claims["sub"]
    assert refreshed_claims["auth_time"] == claims["auth_time"]
    # A retry moments later (a lost response) gets the same successor back (RFC 9700 §4.14.2).
    retried = rp_session(rp_client).refresh_token(metadata["token_endpoint"], refresh_token=old_refresh_token)
    assert retried["refresh_token"] == refreshed["refresh_token"]
    # Past the grace window, the same replay is an attack.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "REFRESH_REUSE_GRACE": 0}
    with pytest.raises(OAuthError) as reused:
        rp_session(rp_client).refresh_token(metadata["token_endpoint"], refresh_token=old_refresh_token)
    assert reused.value.error == "invalid_grant"
    # RFC 9700 §4.14.2: replaying a rotated refresh token revokes the family it belongs to.
    with pytest.raises(OAuthError) as family:
        rp_session(rp_client).refresh_token(
            metadata["token_endpoint"], refresh_token=refreshed["refresh_token"]
        )
    assert family.value.error == "invalid_grant"

    # Sign in again for a live token family, then revoke one access token (RFC 7009).
    browser.session.cookies.clear()
    token, nonce = sign_in_and_fetch_token(browser, session, metadata)
    revoked_access_token = token["access_token"]
    live = session.refresh_token(metadata["token_endpoint"])
    revocation = session.revoke_token(
        metadata["revocation_endpoint"], token=revoked_access_token, token_type_hint="access_token"
    )
    assert revocation.status_code == 200
    revoked_userinfo = requests.get(
        metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {revoked_access_token}"}, timeout=10
    )
    assert revoked_userinfo.status_code == 401
    assert session.introspect_token(
        metadata["introspection_endpoint"], token=revoked_access_token
    ).json() == {"active": False}
    introspection = session.introspect_token(metadata["introspection_endpoint"], token=live["access_token"])
    assert introspection.status_code == 200
    described = introspection.json()
    assert described["active"] is True
    assert described["sub"] == claims["sub"]
    assert described["iss"] == issuer
    assert described["client_id"] == rp_client.client_id
    assert described["token_type"] == "Bearer"
    assert isinstance(described["iat"], int) and described["exp"] > described["iat"]

    # RP-initiated logout: back at the RP with its state; the client's tokens are gone.
    logout_state = generate_token(12)
    response = browser.get(
        metadata["end_session_endpoint"]
        + "?"
        + requests.compat.urlencode(
            {
                "id_token_hint": live["id_token"],
                "post_logout_redirect_uri": rp_client.post_logout_redirect_uri,
                "state": logout_state,
            }
        )
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{POST_LOGOUT_REDIRECT_URI}?state={logout_state}"
    # What happens to the refresh token depends on its kind: see
    # test_authlib_refresh_token_after_rp_initiated_logout.

    # The provider session is over: a silent request must not sign the user in.
    url, state, _nonce, _verifier = authorization_url(rp_session(rp_client), metadata, prompt="none")
    response = browser.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(rp_client.redirect_uri + "?")
    callback = query_of(location)
    assert callback["error"] == "login_required"
    assert callback["state"] == state
    assert "code" not in callback


def test_discovery_names_the_live_issuer_and_its_endpoints(issuer, metadata):
    assert metadata["issuer"] == issuer
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        assert metadata[name].startswith(issuer + "/"), name
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    published = {key["alg"] for key in jwks["keys"]}
    # Every asymmetric algorithm on offer has a published key; HS256 uses the client's secret.
    assert set(metadata["id_token_signing_alg_values_supported"]) - {"HS256"} <= published
    assert all("d" not in key for key in jwks["keys"])


def test_token_rejects_wrong_code_verifier(browser, metadata, rp_client, user):
    session = rp_session(rp_client)
    url, _state, _nonce, _verifier = authorization_url(session, metadata)
    location = browser.sign_in(url)
    with pytest.raises(OAuthError) as error:
        session.fetch_token(
            metadata["token_endpoint"], authorization_response=location, code_verifier=generate_token(48)
        )
    assert error.value.error == "invalid_grant"


def test_token_rejects_a_redeemed_code(browser, metadata, rp_client, user):
    session = rp_session(rp_client)
    url, _state, _nonce, verifier = authorization_url(session, metadata)
    location = browser.sign_in(url)
    session.fetch_token(metadata["token_endpoint"], authorization_response=location, code_verifier=verifier)
    with pytest.raises(OAuthError) as error:
        rp_session(rp_client).fetch_token(
            metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
    assert error.value.error == "invalid_grant"


def test_public_client_completes_code_flow_with_pkce(browser, metadata, register, user):
    public = register("Example SPA", public=True)
    assert public.client_secret is None
    session = rp_session(public, scope="openid email")
    token, nonce = sign_in_and_fetch_token(browser, session, metadata)
    claims = verify_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=public.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["email"] == "alice@example.com"
    # Without offline_access the refresh token is bound to the sign-in session (OIDC Core 1.0
    # §11 keeps only offline tokens for offline_access); the client is registered for refreshing.
    assert token["refresh_token"]
    assert session.get(metadata["userinfo_endpoint"]).json()["sub"] == claims["sub"]


def test_authorize_cancel_returns_access_denied(browser, metadata, rp_client, user):
    url, state, _nonce, _verifier = authorization_url(rp_session(rp_client), metadata)
    callback = query_of(browser.sign_in(url, allow=False))
    assert callback["error"] == "access_denied"
    assert callback["state"] == state
    assert "code" not in callback


def test_introspect_hides_another_clients_token(browser, metadata, register, user):
    owner, other = register("Owner"), register("Other")
    token, _nonce = sign_in_and_fetch_token(browser, rp_session(owner), metadata)
    # RFC 7662 §2.2: a client not entitled to the token learns only that it is not active.
    response = rp_session(other).introspect_token(
        metadata["introspection_endpoint"], token=token["access_token"]
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}
    own = rp_session(owner).introspect_token(metadata["introspection_endpoint"], token=token["access_token"])
    assert own.json()["active"] is True


def test_introspect_requires_client_authentication(browser, metadata, rp_client, user):
    token, _nonce = sign_in_and_fetch_token(browser, rp_session(rp_client), metadata)
    anonymous = requests.post(
        metadata["introspection_endpoint"], data={"token": token["access_token"]}, timeout=10
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    wrong_secret = requests.post(
        metadata["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(rp_client.client_id, "not-the-secret"),
        timeout=10,
    )
    assert wrong_secret.status_code == 401


def test_logout_refuses_unregistered_post_logout_redirect_uri(browser, metadata, rp_client, user):
    token, _nonce = sign_in_and_fetch_token(browser, rp_session(rp_client), metadata)
    response = browser.get(
        metadata["end_session_endpoint"]
        + "?"
        + requests.compat.urlencode(
            {"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example/"}
        )
    )
    assert not response.is_redirect
    assert response.status_code == 400
    # Nothing was revoked: the RP's tokens still work.
    session = rp_session(rp_client)
    session.token = token
    assert session.get(metadata["userinfo_endpoint"]).status_code == 200


def log_out(browser: Browser, metadata: dict, client: E2EClient, id_token: str) -> None:
    """Run RP-initiated logout with ``id_token`` as hint and check the user is sent back."""
    response = browser.get(
        metadata["end_session_endpoint"]
        + "?"
        + requests.compat.urlencode(
            {"id_token_hint": id_token, "post_logout_redirect_uri": client.post_logout_redirect_uri}
        )
    )
    assert response.status_code == 302
    assert response.headers["Location"] == client.post_logout_redirect_uri


@pytest.mark.parametrize(
    ("scope", "survives_logout"),
    [("openid profile email", False), (SCOPE, True)],
    ids=["session-bound", "offline"],
)
def test_authlib_refresh_token_after_rp_initiated_logout(
    browser, metadata, rp_client, user, scope, survives_logout
):
    session = rp_session(rp_client, scope)
    token, _nonce = sign_in_and_fetch_token(browser, session, metadata)
    # Either kind is issued to a client registered for refreshing, with its lifetime.
    assert token["refresh_token"]
    assert token["refresh_expires_in"] > 0
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]

    log_out(browser, metadata, rp_client, refreshed["id_token"])

    if survives_logout:
        # OIDC Core 1.0 §11: offline access outlives the user's sign-in session.
        after = session.refresh_token(metadata["token_endpoint"])
        assert after["access_token"] != refreshed["access_token"]
        assert session.get(metadata["userinfo_endpoint"]).json()["email"] == "alice@example.com"
    else:
        # A session-bound refresh token dies with the session it was issued in.
        with pytest.raises(OAuthError) as after_logout:
            session.refresh_token(metadata["token_endpoint"])
        assert after_logout.value.error == "invalid_grant"


def authorization_url_without_pkce(client: E2EClient, metadata: dict, **extra) -> tuple[str, str]:
    """Return (url, state) for an authorization request without PKCE, as a PKCE-less RP sends it."""
    session = OAuth2Session(client_id=client.client_id, scope=SCOPE, redirect_uri=client.redirect_uri)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], **extra)
    assert "code_challenge" not in query_of(url)
    return url, state


def test_authlib_confidential_client_with_pkce_off_signs_in_with_nonce(browser, metadata, register, user):
    client = register("Legacy RP", require_pkce=False)
    session = OAuth2Session(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope=SCOPE,
        redirect_uri=client.redirect_uri,
    )
    nonce = generate_token(16)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce)
    assert "code_challenge" not in query_of(url)
    location = browser.sign_in(url)
    assert query_of(location)["state"] == state
    # RFC 9700 §2.1.1: without PKCE, the nonce is what binds the response to this sign-in.
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=location)
    claims = verify_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=client.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] == user.subject
    assert session.get(metadata["userinfo_endpoint"]).json()["sub"] == user.subject


def test_authlib_confidential_client_with_pkce_off_needs_a_nonce(browser, metadata, register, user):
    client = register("Legacy RP", require_pkce=False)
    url, state = authorization_url_without_pkce(client, metadata)
    callback = query_of(browser.sign_in(url))
    # RFC 9700 §2.1.1: with neither PKCE nor a nonce nothing binds the code to this sign-in.
    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert "code" not in callback


def test_authlib_confidential_client_needs_pkce_by_default(browser, metadata, rp_client, user):
    url, state = authorization_url_without_pkce(rp_client, metadata, nonce=generate_token(16))
    callback = query_of(browser.sign_in(url))
    # RFC 7636 §4.4.1: a server that requires PKCE answers invalid_request.
    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert "code" not in callback


def test_authlib_public_client_without_pkce_is_refused(browser, metadata, register, user):
    # Asking to turn PKCE off does not take for a public client.
    public = register("Example SPA", public=True, require_pkce=False)
    url, state = authorization_url_without_pkce(public, metadata, nonce=generate_token(16))
    callback = query_of(browser.sign_in(url))
    # A public client has no secret, so PKCE is its only proof at the token endpoint.
    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert "code" not in callback
