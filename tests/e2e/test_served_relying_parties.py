"""Each relying-party library's documented flow against the provider as production serves it.

The other e2e modules use pytest-django's in-process live server; here the provider runs as its
own process, started by `manage.py serve` under the server PORCHLIGHT_TEST_SERVER names
(gunicorn on the SQLite run of `make test`, Granian on the PostgreSQL run), with two workers,
on a database of its own. Its signing keys, its user and each RP's client are made with
`manage.py` (rotatekeys, shell, createclient), as an operator makes them: nothing here reaches
into the served provider's database or settings from the test process.

The flows are the other modules' own tests, collected here a second time: ``issuer``, ``user``
and ``register`` below stand in for the live-server fixtures they use, so the same code drives
openid-client (Node), py-oidc-auth (FastAPI) and oidc-client-ts (Chromium) against the served
process. A test collected here must keep to what goes over HTTP: the test process's settings do
not reach the served one, and its database is not open to it (no database fixture asks for it),
so an ORM call fails loudly. Authlib's lifecycle test changes in-process settings, so its default
flow is composed here from that module's helpers. A failing test's report ends with the server's log
(tests/e2e/conftest.py).
"""

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from authlib.integrations.requests_client import OAuthError

from tests.cluster import TEST_SERVER, ServedProvider, served_provider
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    POST_LOGOUT_REDIRECT_URI,
    REDIRECT_URI,
    E2EClient,
    query_of,
    verify_id_token,
)
from tests.e2e.test_authlib_rp import authorization_url, log_out, rp_session
from tests.e2e.test_oidc_client_ts import (  # noqa: F401 - fixtures and a test, collected here too
    APP_JS,
    LIBRARY,
    PAGE,
    page,
    spa_server,
    test_oidc_client_ts_sign_in_renew_revoke_sign_out,
)
from tests.e2e.test_openid_client import (  # noqa: F401 - a fixture and tests, collected here too
    node_rp,
    test_openid_client_code_flow_refresh_and_logout,
    test_openid_client_device_flow_for_a_public_client,
)
from tests.e2e.test_py_oidc_auth import (  # noqa: F401 - a fixture and tests, collected here too
    start_app,
    test_py_oidc_auth_device_flow_approved_in_chromium,
    test_py_oidc_auth_fastapi_app_signs_in_refreshes_and_logs_out,
)


@dataclass(frozen=True)
class ServedUser:
    """The served provider's user, as the tests read the live server's one: name and subject."""

    username: str
    subject: str


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedProvider]:
    """One served provider for the module (a server start costs seconds); stopped by PID after it."""
    with served_provider(tmp_path_factory.mktemp("served")) as provider:
        yield provider


@pytest.fixture(scope="module")
def served_user(served) -> ServedUser:
    # The live server's ``user`` fixture, made from the shell with the server's own password hasher.
    subject = served.create_user(
        "alice",
        PASSWORD,
        email="alice@example.com",
        email_verified=True,
        first_name="Alice",
        last_name="Liddell",
    )
    return ServedUser("alice", subject)


@pytest.fixture
def issuer(served) -> str:
    """The served provider's URL, its issuer: what ``metadata``, ``browser`` and the RPs start from."""
    return served.url


@pytest.fixture
def user(served_user) -> ServedUser:
    return served_user


@pytest.fixture
def register(served) -> Iterator[Callable[..., E2EClient]]:
    """Register a client with `manage.py createclient`, as the live server's ``register`` does in-process.

    The test's clients are deleted after it: the database outlives the test, and a client's name
    is unique (the tests name theirs alike).
    """
    created: list[str] = []

    def make(
        name: str = "Example RP",
        *,
        public: bool = False,
        redirect_uri: str = REDIRECT_URI,
        post_logout_redirect_uri: str = POST_LOGOUT_REDIRECT_URI,
        grant_types: list[str] | None = None,
        require_pkce: bool = True,
        allowed_origins: tuple[str, ...] = (),
    ) -> E2EClient:
        client_id, secret = served.create_client(
            name,
            redirect_uri=redirect_uri,
            post_logout_redirect_uri=post_logout_redirect_uri,
            public=public,
            grant_types=grant_types or (),
            require_pkce=require_pkce,
            allowed_origins=allowed_origins,
        )
        created.append(client_id)
        return E2EClient(client_id, secret, redirect_uri, post_logout_redirect_uri)

    yield make
    for client_id in created:
        served.delete_client(client_id)


@pytest.fixture
def spa(issuer, user, spa_server, tmp_path, register) -> dict:  # noqa: F811 - the imported fixture
    """The oidc-client-ts app of test_oidc_client_ts.py, registered with the served provider."""
    client = register(
        "Single-page app",
        public=True,
        redirect_uri=f"{spa_server}/callback.html",
        post_logout_redirect_uri=f"{spa_server}/logged-out.html",
        allowed_origins=(spa_server,),
    )
    config = json.dumps({"issuer": issuer, "client_id": client.client_id})
    shutil.copy(LIBRARY / "oidc-client-ts.min.js", tmp_path / "oidc-client-ts.min.js")
    (tmp_path / "app.js").write_text(APP_JS)
    for name, body in (("index", "Home"), ("callback", "Signing in"), ("logged-out", "Signed out")):
        (tmp_path / f"{name}.html").write_text(PAGE.format(config=config, body=body))
    return {"origin": spa_server, "client_id": client.client_id}


def test_authlib_signs_in_reads_userinfo_refreshes_and_logs_out(browser, issuer, metadata, rp_client, user):
    # Without offline_access the refresh token belongs to the sign-in session (OIDC Core 1.0 §11).
    session = rp_session(rp_client, "openid profile email")
    url, state, nonce, verifier = authorization_url(session, metadata)
    location = browser.sign_in(url)
    assert location.startswith(rp_client.redirect_uri + "?")
    callback = query_of(location)
    assert callback["state"] == state
    assert callback["iss"] == issuer  # RFC 9207

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    claims = verify_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=rp_client.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] == user.subject
    assert claims["email"] == "alice@example.com"

    userinfo = session.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == user.subject
    assert userinfo.json()["given_name"] == "Alice"

    # Refresh rotates both tokens and brings an ID token for the same sign-in.
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    renewed = verify_id_token(
        refreshed["id_token"],
        metadata=metadata,
        client_id=rp_client.client_id,
        nonce=None,
        access_token=refreshed["access_token"],
    )
    assert renewed["sub"] == user.subject
    assert renewed["auth_time"] == claims["auth_time"]

    # RP-initiated logout ends the sign-in session and the session's refresh token with it.
    log_out(browser, metadata, rp_client, refreshed["id_token"])
    with pytest.raises(OAuthError) as after_logout:
        session.refresh_token(metadata["token_endpoint"])
    assert after_logout.value.error == "invalid_grant"
    url, state, _nonce, _verifier = authorization_url(rp_session(rp_client), metadata, prompt="none")
    response = browser.get(url)
    assert response.status_code == 302
    silent = query_of(response.headers["Location"])
    assert silent["error"] == "login_required"
    assert silent["state"] == state


def test_the_flows_ran_under_the_server_the_suite_names(served, metadata):
    # The process the flows above talked to is the server PORCHLIGHT_TEST_SERVER names.
    command = Path(f"/proc/{served.pid}/cmdline").read_bytes().split(b"\0")
    assert [b"-m", TEST_SERVER.encode()] == command[1:3], command
    assert metadata["issuer"] == served.url
