# Django must be set up before the project's models can be imported.
# ruff: noqa: E402
"""Prepare a database for the load run; print a user's access token and client credentials as JSON.

Run by bench.py with the environment of the provider under test (DATABASE_URL,
PORCHLIGHT_VAR_DIR, PORCHLIGHT_ISSUER): migrate, create signing keys, a demo user and two
confidential clients, then mint the user's access token through the real login, authorization
and token endpoints (in process), so UserInfo and introspection see an ordinary token.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client as BrowserClient

from oidc_provider.models import GrantType
from oidc_provider.rotation import keys_rotate
from oidc_provider.services import client_create

USERNAME = "demo"
PASSWORD = secrets.token_urlsafe(16)
REDIRECT_URI = "http://127.0.0.1:8080/callback"
SCOPE = "openid profile email"


def basic_auth(client_id: str, secret: str) -> str:
    """Return an HTTP Basic header value; RFC 6749 §2.3.1 form-encodes id and secret first."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def user_access_token(*, client_id: str, secret: str, host: str) -> str:
    """Log the demo user in, authorize the client with PKCE and exchange the code (RFC 7636)."""
    browser = BrowserClient(HTTP_HOST=host)
    response = browser.post("/accounts/login/", {"username": USERNAME, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"seed: login answered {response.status_code}, expected 302")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    response = browser.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(response.get("Location", "")).query).get("code")
    if response.status_code != 302 or not code:
        raise SystemExit(f"seed: authorization answered {response.status_code} without a code")
    response = browser.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code[0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    )
    if response.status_code != 200:
        raise SystemExit(f"seed: code exchange answered {response.status_code}: {response.content[:300]!r}")
    return response.json()["access_token"]


def seed() -> dict[str, str]:
    """Migrate and create keys, user and clients; return the user's token and client credentials."""
    call_command("migrate", interactive=False, verbosity=0)
    keys_rotate()
    get_user_model().objects.create_user(
        username=USERNAME,
        password=PASSWORD,
        email="demo@example.com",
        email_verified=True,
        first_name="Demo",
        last_name="User",
    )
    # Two clients, as deployments have them: a relying party that holds the user's token (and
    # introspects it), and a machine client for client_credentials.
    relying_party, rp_secret = client_create(
        name="Benchmark relying party",
        redirect_uris=[REDIRECT_URI],
        grant_types=[GrantType.AUTHORIZATION_CODE],
        skip_consent=True,
    )
    machine, machine_secret = client_create(
        name="Benchmark machine client", redirect_uris=[], grant_types=[GrantType.CLIENT_CREDENTIALS]
    )
    host = urlsplit(os.environ["PORCHLIGHT_ISSUER"]).netloc
    token = user_access_token(client_id=relying_party.client_id, secret=rp_secret, host=host)
    return {
        "access_token": token,
        "relying_party_auth": basic_auth(relying_party.client_id, rp_secret),
        "machine_auth": basic_auth(machine.client_id, machine_secret),
    }


def main() -> None:
    json.dump(seed(), sys.stdout)


if __name__ == "__main__":
    main()
