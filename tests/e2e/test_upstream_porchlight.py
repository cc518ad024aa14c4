"""Sign in through a real upstream: a second Porchlight, served as production serves it.

The upstream runs under `manage.py serve` on a database of its own (tests/cluster.py); its user and
its client for this Porchlight are made with `manage.py`, as an operator makes them. This
Porchlight is the test's: the test client, or the live server that Chromium and the upstream's
back-channel logout reach. The two run on different host names (127.0.0.1 and localhost), so a
browser keeps their cookies apart, as it would two sites.
"""

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from accounts.models import LoginSession, User
from tests.cluster import ServedProvider, manage, served_provider, task_worker
from tests.conftest import PASSWORD, authorize, exchange, validate_id_token
from tests.e2e.conftest import (
    Browser,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    query_of,
    redeem_code,
    verify_id_token,
)
from tests.upstream.helpers import auth_context, callback_path, provider_create, start
from upstream.models import LinkedIdentity


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> Iterator[ServedProvider]:
    """The upstream Porchlight with its person, alice@corp.example; stopped by PID after the module."""
    folder = tmp_path_factory.mktemp("upstream")
    with served_provider(folder) as provider:
        provider.create_user(
            "alice", PASSWORD, email="alice@corp.example", email_verified=True, first_name="Ada"
        )
        yield provider


def register_downstream(upstream: ServedProvider, downstream_origin: str, *, backchannel: bool = False):
    """Register this Porchlight at the upstream (its redirect URI); return the client id and secret."""
    callback = f"{downstream_origin}/upstream/porch/callback/"
    client_id, secret = upstream.create_client(
        f"Porchlight at {downstream_origin}{' (back-channel)' if backchannel else ''}",
        redirect_uri=callback,
        post_logout_redirect_uri=f"{downstream_origin}/",
    )
    if backchannel:
        uri = f"{downstream_origin}/upstream/porch/backchannel-logout/"
        code = (
            "from oidc_provider.models import Client; "
            f"Client.objects.filter(client_id={client_id!r}).update(backchannel_logout_uri={uri!r})"
        )
        manage(upstream.env, "shell", "-v0", "-c", code)
    assert secret
    return client_id, secret


def porch(upstream: ServedProvider, client_id: str, secret: str):
    return provider_create(
        slug="porch",
        label="Porch Corp",
        icon="openid",
        discovery_url=f"{upstream.url}/.well-known/openid-configuration",
        client_id=client_id,
        secret=secret,
        may_create_accounts=True,
        allowed_domains="corp.example",
    )


def test_upstream_porchlight_signs_a_new_person_in(upstream, db, client, rp):
    client_id, secret = register_downstream(upstream, "http://127.0.0.1:8000")
    porch(upstream, client_id, secret)
    # The person at the upstream: its own sign-in page and consent page, over HTTP.
    at_upstream = Browser(upstream.url)
    back = at_upstream.sign_in(start(client, "porch", next_url="/accounts/profile/"))
    assert back.startswith("http://127.0.0.1:8000/upstream/porch/callback/?")
    response = client.get(callback_path(back))
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    user = User.objects.get(email="alice@corp.example")
    assert user.first_name == "Ada" and user.email_verified
    identity = LinkedIdentity.objects.get(user=user)
    assert identity.subject and identity.subject != str(user.subject)
    assert auth_context(client)["amr"] == ["fed"]
    # This Porchlight's own ID tokens, for its own apps, say how the person signed in.
    result = authorize(client, rp, scope="openid email")
    claims = validate_id_token(
        exchange(client, rp, result).json()["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=rp.client_id,
        nonce=result.nonce,
    )
    assert claims["sub"] == user.subject and (claims["amr"], claims["acr"]) == (["fed"], "pwd")
    # The callback cannot be used again (a replay), whoever sends it.
    client.post("/accounts/logout/")
    assert client.get(callback_path(back)).status_code == 400


@pytest.fixture
def porch_at_live_server(issuer, upstream):
    """The upstream, registered for the live server and configured there (before Chromium starts)."""
    client_id, secret = register_downstream(upstream, issuer)
    return porch(upstream, client_id, secret)


@pytest.fixture
def page(issuer, rp_client, porch_at_live_server) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def test_browser_signs_in_to_an_app_through_the_upstream(page, issuer, metadata, rp_client, upstream):
    assert urlsplit(issuer).hostname == "localhost" and urlsplit(upstream.url).hostname == "127.0.0.1"
    request = authorization_request(metadata["authorization_endpoint"], rp_client, scope="openid email")
    page.goto(request.url)
    assert page.url.startswith(f"{issuer}/accounts/login/")
    # The sign-in page's button, kept through the app's pending request.
    page.get_by_role("link", name="Sign in with Porch Corp").click()
    page.wait_for_url(f"{upstream.url}/accounts/login/**")
    chromium_sign_in(page)
    # The upstream asks whether this Porchlight may use the account, then sends the browser back.
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{metadata['authorization_endpoint']}?**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{rp_client.redirect_uri}?**")
    callback = query_of(page.url)
    assert callback["state"] == request.state
    assert page.get_by_text("Back at the RP").is_visible()
    tokens = redeem_code(metadata["token_endpoint"], rp_client, callback["code"], request.verifier)
    claims = verify_id_token(
        tokens["id_token"], metadata=metadata, client_id=rp_client.client_id, nonce=request.nonce
    )
    assert claims["email"] == "alice@corp.example" and claims["amr"] == ["fed"]
    # The account page lists the linked identity.
    page.goto(f"{issuer}/accounts/")
    assert page.get_by_role("heading", name="Sign-in providers").is_visible()
    assert page.get_by_role("button", name="Unlink Porch Corp").is_visible()


def test_signing_out_at_the_upstream_signs_out_here(issuer, upstream, tmp_path):
    client_id, secret = register_downstream(upstream, issuer, backchannel=True)
    porch(upstream, client_id, secret)
    here, there = Browser(issuer), Browser(upstream.url)
    location = here.session.get(f"{issuer}/upstream/porch/start/", allow_redirects=False, timeout=10)
    back = there.sign_in(location.headers["Location"])
    assert here.session.get(back, allow_redirects=False, timeout=10).status_code == 302
    assert here.session.get(f"{issuer}/accounts/", allow_redirects=False, timeout=10).status_code == 200
    session = LoginSession.objects.get(ended__isnull=True)
    with task_worker(upstream.env, tmp_path / "worker.log"):
        # Signing out at the upstream: it posts a logout token to this Porchlight (Back-Channel Logout 1.0).
        logout_page = there.get(f"{upstream.url}/accounts/logout/")
        there.submit(logout_page, "/accounts/logout/", {})
        deadline = time.monotonic() + 60
        while LoginSession.objects.filter(pk=session.pk, ended__isnull=True).exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
    signed_out = here.session.get(f"{issuer}/accounts/", allow_redirects=False, timeout=10)
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out.headers["Location"]
