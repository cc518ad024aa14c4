"""The quick start serves the provider under gunicorn with static files from whitenoise."""

import re

import pytest
import requests

from tests.cluster import gunicorn_node, manage, migrated_sqlite, node_environment


@pytest.fixture
def served(tmp_path):
    """The quick start's steps on a SQLite database under var/, then gunicorn.

    The database starts migrated (a copy made once per test process), so ``migrate`` checks that
    nothing is left to apply instead of spending seconds on applying everything again.
    """
    env = node_environment(tmp_path, None)
    migrated_sqlite(tmp_path)
    for args in (
        ["migrate", "-v0"],
        ["collectstatic", "--no-input", "-v0"],
        ["loaddata", "-v0", "fixtures/demo.json"],
        ["rotatekeys"],
    ):
        manage(env, *args)
    with gunicorn_node(env, tmp_path / "gunicorn.log") as base:
        yield base


def test_gunicorn_serves_discovery_login_and_static(served):
    discovery = requests.get(served + "/.well-known/openid-configuration", timeout=5)
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == served
    assert discovery.json()["id_token_signing_alg_values_supported"]
    login = requests.get(served + "/accounts/login/", timeout=5)
    assert login.status_code == 200
    css = requests.get(served + "/static/porchlight/site.css", timeout=5)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    assert len(requests.get(served + "/o/jwks/", timeout=5).json()["keys"]) == 4
    # Every page names its icon (no request for a missing /favicon.ico); WhiteNoise serves both.
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', login.text)
    assert len(icons) == 2, icons
    for href in icons:
        icon = requests.get(served + href, timeout=5)
        assert icon.status_code == 200, href
        assert icon.headers["Content-Type"] in {"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon"}
