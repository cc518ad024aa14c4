"""The quick start serves the provider under gunicorn with static files from whitenoise."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORCHLIGHT_") and k != "DATABASE_URL"}
    env.update(
        PORCHLIGHT_VAR_DIR=str(tmp_path),
        PORCHLIGHT_BIND=f"127.0.0.1:{port}",
        PORCHLIGHT_ISSUER=f"http://127.0.0.1:{port}",
        PORCHLIGHT_WORKERS="1",
        PORCHLIGHT_ACCESS_LOG="",
    )
    manage = [sys.executable, "manage.py"]
    for args in (
        ["migrate", "-v0"],
        ["collectstatic", "--no-input", "-v0"],
        ["loaddata", "-v0", "fixtures/demo.json"],
        ["rotatekeys"],
    ):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "porchlight/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/.well-known/openid-configuration", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


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
