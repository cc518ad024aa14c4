"""Render the pages people see into docs/screenshots/ (``make screenshots``).

Starts Porchlight under gunicorn on a throwaway SQLite database with demo data, then drives
Debian's Chromium (Playwright; browsers are never downloaded) through the sign-in, consent,
account, client form and user pages at 1280 and 390 px. At 390 px it also checks that no page
is wider than the screen, and fails if one is.
"""

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
WIDTHS = {"1280": (1280, 800), "390": (390, 844)}
# The longest part of a page kept in a screenshot; the rest only makes the file bigger.
MAX_HEIGHT = 1500
STAFF = ("admin", "porchlight-admin-demo")
DEMO = ("demo", "porchlight-demo")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    """Return 8000 (the quick start's port, as the pages show it) if free, else any free port."""
    for port in (8000, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free port")


class Prepared(TypedDict):
    """The rows the pages show: the demo user's and the wiki client's."""

    demo: int
    wiki: int
    wiki_client_id: str


def prepare(env: dict[str, str]) -> Prepared:
    """Migrate, load the demo data and add what the pages show; return the ids the pages need."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("loaddata", str(ROOT / "fixtures" / "demo.json"), verbosity=0)
    call_command("rotatekeys", verbosity=0)

    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.mfa.models import TOTPAuthenticator
    from accounts.mfa.recovery_codes import recovery_codes_generate
    from oidc_provider.services import client_create

    users = get_user_model()
    users.objects.create_superuser(STAFF[0], "admin@example.com", STAFF[1])
    demo = users.objects.get(username=DEMO[0])
    demo.set_password(DEMO[1])
    demo.save()
    for name in ("Engineering", "On call"):
        demo.groups.add(Group.objects.create(name=name))
    wiki, _ = client_create(
        name="Team wiki",
        redirect_uris=["http://localhost:8080/callback"],
        release_groups=True,
        actor_label="screenshots",
    )
    robin = users.objects.create_user("robin", "robin@example.com", DEMO[1])
    robin.first_name, robin.last_name = "Robin", "Ames"
    robin.save()
    demo_app_signs_in(env["PORCHLIGHT_ISSUER"])
    TOTPAuthenticator.objects.create(user=demo, name="Phone", confirmed=True)
    WebAuthnCredential.objects.create(
        user=demo,
        name="MacBook passkey",
        confirmed=True,
        credential_id=secrets.token_bytes(16),
        public_key=b"demo",
        aaguid="00000000-0000-0000-0000-000000000000",
    )
    recovery_codes_generate(demo)
    return {"demo": demo.pk, "wiki": wiki.pk, "wiki_client_id": wiki.client_id}


def demo_app_signs_in(issuer: str) -> None:
    """Run the demo app's code flow for the demo user, in process, so the user page has tokens."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client as Browser

    browser = Browser(HTTP_HOST=urlsplit(issuer).netloc)
    browser.post("/accounts/login/", {"username": DEMO[0], "password": DEMO[1]})
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = {
        "response_type": "code",
        "client_id": "porchlight-demo",
        "redirect_uri": "http://localhost:8080/callback",
        "scope": "openid profile email offline_access",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get("/o/authorize/", query)
    found = re.search(r'name="request_id" value="([^"]+)"', page.content.decode())
    if found is None:
        raise RuntimeError(f"the demo app's consent page has no request_id ({page.status_code})")
    request_id = found.group(1)
    answer = browser.post("/o/authorize/consent/", {"request_id": request_id, "allow": "1"})
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    token = browser.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": query["redirect_uri"],
            "code_verifier": verifier,
            "client_id": "porchlight-demo",
            "client_secret": "porchlight-demo-secret-not-for-production-2026",
        },
    )
    if token.status_code != 200:
        raise SystemExit(f"the demo sign-in failed: {token.content[:200]!r}")


def wait_for(url: str, server: subprocess.Popen) -> None:
    import requests

    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit("the server stopped")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def shoot(page, name: str, width_name: str, overflowing: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > page.viewport_size["width"]:
        overflowing.append(f"{name} at {page.viewport_size['width']} px is {width} px wide")
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    path = OUT / f"{name}-{width_name}.png"
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
    page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
    print(f"  {path.relative_to(ROOT)}")


def sign_in(page, base: str, username: str, password: str, next_url: str = "") -> None:
    page.goto(f"{base}/accounts/login/" + (f"?{urlencode({'next': next_url})}" if next_url else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://localhost:{port}"
    var = tempfile.mkdtemp(prefix="porchlight-screenshots-")
    env = {
        "DJANGO_SETTINGS_MODULE": "porchlight.settings",
        "PORCHLIGHT_ISSUER": base,
        "PORCHLIGHT_VAR_DIR": var,
        "DATABASE_URL": f"sqlite:///{var}/porchlight.sqlite3",
        "PORCHLIGHT_BIND": f"127.0.0.1:{port}",
        "PORCHLIGHT_WORKERS": "2",
        "PORCHLIGHT_ACCESS_LOG": "",
        "PORCHLIGHT_STAFF_REQUIRE_MFA": "false",
    }
    ids = prepare(env)
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "porchlight/gunicorn.conf.py"],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    overflowing: list[str] = []
    try:
        wait_for(f"{base}/.well-known/openid-configuration", server)
        consent_query = urlencode(
            {
                "response_type": "code",
                "client_id": ids["wiki_client_id"],
                "redirect_uri": "http://localhost:8080/callback",
                "scope": "openid profile email groups offline_access",
                "state": "screenshot",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            }
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for width_name, (width, height) in WIDTHS.items():
                print(f"{width} px:")
                person = browser.new_context(viewport={"width": width, "height": height})
                page = person.new_page()
                page.goto(f"{base}/accounts/login/")
                shoot(page, "sign-in", width_name, overflowing)
                # The demo user has an authenticator: the code step follows the password.
                sign_in(page, base, *DEMO, next_url=f"/o/authorize/?{consent_query}")
                shoot(page, "second-factor", width_name, overflowing)
                person.close()

                # Consent and the account page, for a user signed in without a second step.
                person = browser.new_context(viewport={"width": width, "height": height})
                page = person.new_page()
                sign_in(page, base, "robin", DEMO[1], next_url=f"/o/authorize/?{consent_query}")
                shoot(page, "consent", width_name, overflowing)
                page.goto(f"{base}/accounts/")
                shoot(page, "account", width_name, overflowing)
                person.close()

                staff = browser.new_context(viewport={"width": width, "height": height})
                page = staff.new_page()
                sign_in(page, base, *STAFF, next_url="/admin/")
                page.goto(f"{base}/admin/oidc_provider/client/add/")
                shoot(page, "client-kind", width_name, overflowing)
                page.goto(f"{base}/admin/oidc_provider/client/add/?kind=web")
                shoot(page, "client-form", width_name, overflowing)
                page.goto(f"{base}/admin/oidc_provider/client/{ids['wiki']}/handover/")
                shoot(page, "client-settings", width_name, overflowing)
                page.goto(f"{base}/admin/accounts/user/{ids['demo']}/change/")
                shoot(page, "user", width_name, overflowing)
                staff.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(var, ignore_errors=True)
    if overflowing:
        raise SystemExit("Pages wider than the screen:\n  " + "\n  ".join(overflowing))


if __name__ == "__main__":
    main()
