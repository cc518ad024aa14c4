"""py-oidc-auth against the live provider: its FastAPI app end to end, and its token verifier.

The FastAPI app is built as the library's docs build it (``FastApiOIDCAuth`` configured from
the discovery URL, ``create_auth_router()`` under ``/api``, a route protected by
``auth.required()``) and served by uvicorn on its own loopback port, so the provider's
redirects reach its real callback. Its framework-neutral pieces are also used as a resource
server: ``OIDCConfig`` discovers the provider, ``TokenVerifier`` checks a bearer token's
signature against the discovered JWKS and its iss/aud/exp, and ``OIDCAuth.userinfo`` resolves
the user's profile.
"""

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlencode

import jwt as pyjwt
import pytest
import requests
from fastapi import FastAPI
from py_oidc_auth import FastApiOIDCAuth, IDToken, OIDCAuth
from py_oidc_auth.token_validation import TokenVerifier
from py_oidc_auth.utils import OIDCConfig

from oidc_provider.models import GrantType
from tests.e2e.conftest import E2EClient, chromium_approve_device, chromium_context, sign_in_for_tokens
from tests.oauth import INTROSPECT, Served, introspection
from tests.rp import loopback_socket, origin_of, serve_asgi
from tests.tokens import claims_of

API = "https://api.example.com/"


def discovered_verifier(issuer: str, audience: str) -> TokenVerifier:
    """Configure a resource server for ``audience`` from the issuer's discovery document alone."""
    config = OIDCConfig(client_id=audience, discovery_url=f"{issuer}/.well-known/openid-configuration")
    overview = config.oidc_overview
    assert overview["issuer"] == issuer
    # The library types the document's values as any JSON value.
    jwks_uri = overview["jwks_uri"]
    assert isinstance(jwks_uri, str), overview
    return TokenVerifier(jwks_uri=jwks_uri, issuer=issuer, audience=audience)


def verify(verifier: TokenVerifier, token: str):
    return asyncio.run(verifier.verify(token))


def with_claims(token: str, **changes) -> str:
    """Return ``token`` with its payload rewritten and the original signature kept."""
    header, _payload, signature = token.split(".")
    claims = claims_of(token)
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_py_oidc_auth_validates_access_token_and_reads_the_user(browser, issuer, metadata, rp_client, user):
    tokens = sign_in_for_tokens(browser, metadata, rp_client)
    token = verify(discovered_verifier(issuer, rp_client.client_id), tokens["access_token"])
    assert token.iss == issuer
    assert token.sub == user.subject
    assert token.aud == rp_client.client_id
    assert set(token.scope.split()) == set(tokens["scope"].split())
    assert token.exp - token.iat == tokens["expires_in"]
    # RFC 9068 claims the library keeps as extras.
    extra = token.model_extra
    assert extra["client_id"] == rp_client.client_id
    assert extra["acr"] == "pwd"
    assert isinstance(extra["auth_time"], int)
    assert extra["jti"]


def test_py_oidc_auth_userinfo_resolves_the_profile(browser, issuer, metadata, rp_client, user):
    tokens = sign_in_for_tokens(browser, metadata, rp_client)
    auth = OIDCAuth(client_id=rp_client.client_id, discovery_url=f"{issuer}/.well-known/openid-configuration")

    async def resolve():
        token = await discovered_verifier(issuer, rp_client.client_id).verify(tokens["access_token"])
        # The access token carries no profile claims, so the library asks UserInfo with it.
        return await auth.userinfo(token, {"Authorization": f"Bearer {tokens['access_token']}"})

    profile = asyncio.run(resolve())
    assert profile.username == "alice"
    assert profile.first_name == "Alice"
    assert profile.last_name == "Liddell"
    assert profile.email == "alice@example.com"


def test_py_oidc_auth_rejects_a_tampered_token(browser, issuer, metadata, rp_client, user):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    verifier = discovered_verifier(issuer, rp_client.client_id)
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, with_claims(access_token, sub="someone-else"))
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, with_claims(access_token, scope="openid profile email admin"))
    header, payload, signature = access_token.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(verifier, f"{header}.{payload}.{flipped}")
    assert verify(verifier, access_token).sub == user.subject


def test_py_oidc_auth_rejects_a_token_for_another_audience(browser, issuer, metadata, rp_client, user):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    with pytest.raises(pyjwt.InvalidAudienceError):
        verify(discovered_verifier(issuer, API), access_token)


def test_py_oidc_auth_accepts_a_token_for_its_resource_only(browser, issuer, metadata, rp_client, user):
    # RFC 8707: a token asked for the API names the API as its audience, not the client.
    access_token = sign_in_for_tokens(browser, metadata, rp_client, resource=API)["access_token"]
    token = verify(discovered_verifier(issuer, API), access_token)
    assert token.aud == API
    assert token.sub == user.subject
    with pytest.raises(pyjwt.InvalidAudienceError):
        verify(discovered_verifier(issuer, rp_client.client_id), access_token)


def test_py_oidc_auth_validates_locally_so_revocation_shows_only_at_introspection(
    browser, issuer, metadata, rp_client, user
):
    access_token = sign_in_for_tokens(browser, metadata, rp_client)["access_token"]
    verifier = discovered_verifier(issuer, rp_client.client_id)
    assert verify(verifier, access_token).sub == user.subject
    revoked = requests.post(
        metadata["revocation_endpoint"],
        data={"token": access_token, "token_type_hint": "access_token"},
        auth=(rp_client.client_id, rp_client.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    # Local validation cannot see a revocation before exp: this is why access tokens are
    # short-lived, and why a resource server that must honour revocation introspects.
    assert verify(verifier, access_token).sub == user.subject
    assert metadata["introspection_endpoint"] == f"{issuer}{INTROSPECT}"
    assert introspection(Served(issuer), rp_client, access_token) == {"active": False}
    userinfo = requests.get(
        metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert userinfo.status_code == 401


# --- the FastAPI app, as py-oidc-auth's docs build it ----------------------------------------


@dataclass
class App:
    origin: str
    client: E2EClient

    def url(self, path: str, **query: str) -> str:
        return self.origin + path + ("?" + urlencode(query) if query else "")


def fastapi_app(auth: FastApiOIDCAuth) -> FastAPI:
    """Return the docs' FastAPI app: the auth routes under /api and one protected route."""
    app = FastAPI()
    app.include_router(auth.create_auth_router(prefix="/api"))

    @app.get("/api/me")
    async def me(token: IDToken = auth.required()) -> dict:
        return {"sub": token.sub}

    @app.get("/logged-out")
    async def logged_out() -> dict:
        return {"message": "You are signed out."}

    return app


@pytest.fixture
def start_app(issuer, register, tmp_path, user) -> Iterator[Callable[..., App]]:
    """Serve a py-oidc-auth FastAPI app registered as a confidential client, for the test."""
    with ExitStack() as running:

        def start(*, broker_mode: bool, grant_types: list[str] | None = None) -> App:
            sock = loopback_socket()
            origin = origin_of(sock)
            client = register(
                "FastAPI app",
                redirect_uri=f"{origin}/api/auth/v2/callback",
                post_logout_redirect_uri=f"{origin}/logged-out",
                grant_types=grant_types,
            )
            auth = FastApiOIDCAuth(
                client_id=client.client_id,
                client_secret=client.client_secret,
                discovery_url=f"{issuer}/.well-known/openid-configuration",
                scopes="profile email",
                audience=client.client_id,
                proxy=origin,
                broker_mode=broker_mode,
                # The docs' broker keeps the IDP refresh token in SQL (NOT NULL), which is where
                # a code exchange without one failed with a 500.
                broker_store_url=f"sqlite+aiosqlite:///{tmp_path / 'broker.sqlite'}",
                broker_audience="example-api",
            )
            running.enter_context(serve_asgi(fastapi_app(auth), sock))
            return App(origin, client)

        yield start


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_refresh(app: App, refresh_token: str) -> requests.Response:
    # py-oidc-auth's token route names the field "refresh-token".
    return requests.post(app.url("/api/auth/v2/token"), data={"refresh-token": refresh_token}, timeout=30)


@pytest.mark.parametrize("broker_mode", [True, False], ids=["broker", "passthrough"])
def test_py_oidc_auth_fastapi_app_signs_in_refreshes_and_logs_out(start_app, browser, user, broker_mode):
    app = start_app(broker_mode=broker_mode)
    callback_url = app.url("/api/auth/v2/callback")

    # The user opens the app's login route; it sends them to Porchlight with PKCE and a nonce.
    location = browser.sign_in(app.url("/api/auth/v2/login", redirect_uri=callback_url))
    assert location.startswith(callback_url + "?")
    callback = browser.session.get(location, timeout=30)
    assert callback.status_code == 200, callback.text
    tokens = callback.json()
    assert tokens["token_type"].lower() == "bearer"
    # The library keeps the IDP refresh token, so every code exchange must carry one.
    assert tokens["refresh_token"]
    assert tokens["refresh_expires"] > time.time()

    # The protected route accepts the bearer token and refuses a request without one.
    me = requests.get(app.url("/api/me"), headers=bearer(tokens["access_token"]), timeout=30)
    assert me.status_code == 200, me.text
    # The broker mints its own token named after the username; passthrough shows Porchlight's sub.
    assert me.json() == {"sub": "alice" if broker_mode else user.subject}
    assert requests.get(app.url("/api/me"), timeout=30).status_code == 401
    profile = requests.get(
        app.url("/api/auth/v2/userinfo"), headers=bearer(tokens["access_token"]), timeout=30
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["username"] == "alice"
    if not broker_mode:
        # Passthrough asks Porchlight's UserInfo. The broker answers from its own token, minted
        # from access-token claims, which carry no email (optional in RFC 9068 §2.2.3.1).
        assert profile.json()["email"] == "alice@example.com"

    refreshed = app_refresh(app, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()
    assert renewed["access_token"] != tokens["access_token"]
    me = requests.get(app.url("/api/me"), headers=bearer(renewed["access_token"]), timeout=30)
    assert me.status_code == 200, me.text

    # Logout through the app. It sends client_id without id_token_hint, so Porchlight asks the
    # user first (RP-Initiated Logout 1.0 §2), then sends them back to the app.
    logged_out_url = app.url("/logged-out")
    question = browser.get(app.url("/api/auth/v2/logout", post_logout_redirect_uri=logged_out_url))
    assert question.status_code == 200
    assert "Sign out of FastAPI app?" in question.text
    response = browser.submit(question, "/o/logout/", {})
    assert response.status_code == 302
    assert response.headers["Location"] == logged_out_url
    assert browser.session.get(logged_out_url, timeout=30).json() == {"message": "You are signed out."}

    # The refresh token was bound to the sign-in session that just ended.
    after = app_refresh(app, renewed["refresh_token"])
    assert after.status_code == 400
    assert "invalid_grant" in after.json()["detail"]


def test_py_oidc_auth_device_flow_approved_in_chromium(start_app, issuer):
    app = start_app(
        broker_mode=True,
        grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN, GrantType.DEVICE_CODE],
    )
    started = requests.post(app.url("/api/auth/v2/device"), timeout=30)
    assert started.status_code == 200, started.text
    device = started.json()
    assert device["verification_uri"].startswith(issuer + "/")
    assert device["user_code"]

    def poll() -> requests.Response:
        # RFC 8628 §3.5: wait the interval between polls.
        time.sleep(device["interval"])
        return requests.post(
            app.url("/api/auth/v2/token"), data={"device-code": device["device_code"]}, timeout=30
        )

    pending = poll()
    assert pending.status_code == 400
    assert "authorization_pending" in pending.json()["detail"]

    with chromium_context() as context:
        chromium_approve_device(
            context.new_page(), verification_uri=device["verification_uri"], user_code=device["user_code"]
        )

    granted = poll()
    assert granted.status_code == 200, granted.text
    tokens = granted.json()
    me = requests.get(app.url("/api/me"), headers=bearer(tokens["access_token"]), timeout=30)
    assert me.status_code == 200, me.text
    assert me.json() == {"sub": "alice"}
    # The device keeps its sign-in: the broker refreshes with the stored IDP refresh token.
    refreshed = app_refresh(app, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
