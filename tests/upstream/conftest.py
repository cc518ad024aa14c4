"""Upstream fixtures: a misbehaving-on-request OpenID upstream and a GitHub stand-in, and their providers."""

import pytest

from tests.upstream.helpers import provider_create
from tests.upstream_server import FakeGitHub, FakeOIDC


@pytest.fixture
def fake_oidc():
    with FakeOIDC() as server:
        yield server


@pytest.fixture
def corp(db, fake_oidc):
    """An OpenID provider that may make accounts for example.org addresses."""
    return provider_create(
        slug="corp",
        label="Corp",
        discovery_url=fake_oidc.discovery_url,
        client_id=FakeOIDC.CLIENT_ID,
        secret=FakeOIDC.CLIENT_SECRET,
        may_create_accounts=True,
        allowed_domains="example.org",
    )


@pytest.fixture
def fake_github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def github(db, fake_github):
    return provider_create(
        slug="github",
        label="GitHub",
        kind="github",
        icon="github",
        scopes="read:user user:email",
        client_id=FakeGitHub.CLIENT_ID,
        secret=FakeGitHub.CLIENT_SECRET,
        web_base_url=fake_github.url,
        api_base_url=fake_github.url,
        may_create_accounts=True,
    )
