"""Security headers on pages and protocol responses, and Django's deployment checks."""

import base64
import hashlib
import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client
from django.test.utils import override_settings

from ops.headers import CSPMiddleware

ROOT = Path(__file__).resolve().parents[2]
FORM = "application/x-www-form-urlencoded"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    """Return an operator's production environment: https issuer, secrets set, debug off."""
    return {
        "PATH": "/usr/bin:/bin",
        "PORCHLIGHT_VAR_DIR": str(tmp_path),
        "PORCHLIGHT_ISSUER": "https://id.example.com",
        "PORCHLIGHT_SECRET_KEY": secrets.token_urlsafe(50),
        "PORCHLIGHT_KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        **extra,
    }


# Served by a production configuration with Django's test client over https, headers printed as JSON.
FETCH = """
import json, sys
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
setup_test_environment()
# No collectstatic in a test: static URLs without the manifest.
storages = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    response = Client().get(sys.argv[1], secure=True, HTTP_HOST="id.example.com")
print(json.dumps({"status": response.status_code, "headers": dict(response.headers),
                  "body": response.content.decode()}))
"""


def fetch_in_production(tmp_path, path: str, **extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{FETCH}", path],
        cwd=ROOT,
        env={**production_env(tmp_path, **extra), "DJANGO_SETTINGS_MODULE": "porchlight.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_headers_login_page_has_strict_csp(browser):
    response = browser.get("/accounts/login/")

    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "publickey-credentials-get=(self)" in response["Permissions-Policy"]


def test_headers_protocol_json_is_nosniff_with_permissions_policy(db, signing_keys, client):
    response = client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Permissions-Policy" in response


def test_headers_protocol_responses_carry_the_pages_csp(signing_keys, client):
    page = client.get("/accounts/login/")["Content-Security-Policy"]

    for response in (
        client.get("/.well-known/openid-configuration"),
        client.get("/o/jwks/"),
        client.post("/o/token/", {"grant_type": "client_credentials"}),
    ):
        assert response["Content-Security-Policy"] == page


def test_headers_response_with_its_own_csp_keeps_it(rf):
    def view(request):
        response = HttpResponse()
        response._csp_update = {"frame-src": ["https://app.example.com"]}
        return response

    first = CSPMiddleware(view)(rf.get("/accounts/logged-out/"))
    second = CSPMiddleware(lambda request: HttpResponse())(rf.get("/accounts/logged-out/"))

    assert directives(first["Content-Security-Policy"])["frame-src"] == ["https://app.example.com"]
    assert "frame-src" not in directives(second["Content-Security-Policy"])


def test_headers_https_issuer_sends_hsts(tmp_path):
    # A page that reads no table (this configuration has a database never migrated): the sign-in
    # page lists the upstream providers staff configured.
    page = fetch_in_production(tmp_path, "/accounts/password/reset/")

    hsts = page["headers"]["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 60 * 60 * 24 * 180
    assert "includeSubDomains" in hsts


def test_headers_accent_colour_style_is_allowed_by_its_hash(tmp_path):
    page = fetch_in_production(tmp_path, "/accounts/password/reset/", PORCHLIGHT_ACCENT_COLOR="#0b5cad")

    assert page["status"] == 200
    inline = re.findall(r"<style>(.*?)</style>", page["body"], re.S)
    assert inline, "the accent colour is an inline style"
    allowed = directives(page["headers"]["Content-Security-Policy"])["style-src"]
    for style in inline:
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


def test_check_deploy_with_production_configuration_reports_no_warnings(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


# Porchlight's header middleware and the middleware it stands for (ops/headers.py).
STOCK_MIDDLEWARE = {
    "ops.headers.SecurityMiddleware": "django.middleware.security.SecurityMiddleware",
    "ops.headers.CSPMiddleware": "csp.middleware.CSPMiddleware",
    "ops.headers.FrameOptionsMiddleware": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ops.headers.CommonMiddleware": "django.middleware.common.CommonMiddleware",
}


# Different for every request: its id, and a page's Expires (the time it was answered).
UNSTABLE = {"X-Request-ID", "Expires"}


def answers(requests) -> list[tuple[int, dict[str, str]]]:
    """Send ``requests`` through a new handler; return each status and headers (not the id)."""
    client = Client()
    seen = []
    for method, path, options in requests:
        response = getattr(client, method)(path, **options)
        headers: dict = {name: value for name, value in response.headers.items() if name not in UNSTABLE}
        for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only"):
            if name in headers:
                # django-csp's own order of the directives varies from one response to the next.
                headers[name] = directives(headers[name])
        seen.append((response.status_code, headers))
    return seen


@pytest.mark.parametrize(
    "configuration",
    [
        {},
        {"SECURE_HSTS_SECONDS": 600, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True},
        {"SECURE_SSL_REDIRECT": True},
        {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin", "X_FRAME_OPTIONS": "sameorigin"},
    ],
)
def test_headers_are_those_of_djangos_own_middleware(signing_keys, rp, settings, configuration):
    # Protocol answers (lean path) and pages, plain and secure: the same headers as Django's
    # SecurityMiddleware and XFrameOptionsMiddleware and django-csp's middleware give.
    for name, value in configuration.items():
        setattr(settings, name, value)
    requests = []
    for secure in (False, True):
        requests += [
            ("get", "/.well-known/openid-configuration", {"secure": secure}),
            ("get", "/o/userinfo/", {"secure": secure}),
            ("get", "/o/userinfo/", {"secure": secure, "HTTP_AUTHORIZATION": "Bearer nothing"}),
            ("post", "/o/introspect/", {"secure": secure, "data": {"token": "x"}}),
            ("post", "/o/token/", {"secure": secure, "data": {"grant_type": "client_credentials"}}),
            # The malformed-input guard answers before the inner middleware.
            ("post", "/o/token/", {"secure": secure, "data": "a=%zz", "content_type": FORM}),
            ("get", "/accounts/login/", {"secure": secure}),
            ("get", "/accounts/logged-out/", {"secure": secure}),
            ("get", "/no/such/page/", {"secure": secure}),
        ]
    ours = answers(requests)
    stock = {
        name: [STOCK_MIDDLEWARE.get(path, path) for path in getattr(settings, name)]
        for name in ("MIDDLEWARE", "PROTOCOL_MIDDLEWARE")
    }
    with override_settings(**stock):
        theirs = answers(requests)
    for request, mine, django in zip(requests, ours, theirs, strict=True):
        assert mine == django, request
    if configuration.get("SECURE_HSTS_SECONDS"):
        assert "Strict-Transport-Security" in ours[-1][1]
        assert "Strict-Transport-Security" not in ours[0][1]
