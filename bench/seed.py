# Django must be set up before the project's models can be imported.
# ruff: noqa: E402
"""Prepare a database for the load run; print a user's access token and client credentials as JSON.

Run by bench.py with the environment of the provider under test (DATABASE_URL,
PORCHLIGHT_VAR_DIR, PORCHLIGHT_ISSUER): migrate, create signing keys, a demo user and two
confidential clients, then mint the user's tokens through the real login, authorization and
token endpoints (in process), so UserInfo and introspection see an ordinary token.

Codes and refresh tokens are single use, so the authorization_code and refresh_token workloads
each get a pool of ``BENCH_POOL`` of them: copies of the code and refresh token the real flow
issued (same user, client, session and scopes), bulk-inserted with fresh random values.

With ``BENCH_GROWTH=1`` (``make bench GROWTH=1``) the database also gets 100,000 users,
1,000,000 expired access tokens and 200,000 long-revoked refresh tokens, bulk-inserted in
batches, so lookups are measured against full tables and housekeeping has rows to prune.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import router
from django.test import Client as BrowserClient
from django.utils import timezone
from oauth2_provider.models import set_token_value
from oauth2_provider.settings import oauth2_settings

from ground.checksums import token_checksum
from oidc_provider.models import AccessToken, Algorithm, Client, Grant, GrantType, RefreshToken
from oidc_provider.oauth2_validators import MACHINE_CLIENT_WITH_ACCESS_TOKEN
from oidc_provider.rotation import keys_rotate
from oidc_provider.services import client_create
from oidc_provider.tokens import PRESENTED_ACCESS_TOKEN

_Token = TypeVar("_Token", AccessToken, RefreshToken)

USERNAME = "demo"
PASSWORD = secrets.token_urlsafe(16)
REDIRECT_URI = "http://127.0.0.1:8080/callback"
SCOPE = "openid profile email"
POOL = int(os.environ.get("BENCH_POOL", "8000"))
GROWTH = os.environ.get("BENCH_GROWTH") == "1"
GROWTH_USERS, GROWTH_ACCESS_TOKENS, GROWTH_REFRESH_TOKENS = 100_000, 1_000_000, 200_000
BATCH = 5_000
# One PKCE verifier for every pooled code (RFC 7636 §4.1): the workload measures the exchange.
VERIFIER = secrets.token_urlsafe(48)


def basic_auth(client_id: str, secret: str) -> str:
    """Return an HTTP Basic header value; RFC 6749 §2.3.1 form-encodes id and secret first."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def pkce_challenge(verifier: str) -> str:
    """Return the S256 code_challenge for ``verifier`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def user_tokens(*, client_id: str, secret: str, host: str) -> dict:
    """Log the demo user in, authorize the client with PKCE and exchange the code (RFC 7636)."""
    browser = BrowserClient(HTTP_HOST=host)
    response = browser.post("/accounts/login/", {"username": USERNAME, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"seed: login answered {response.status_code}, expected 302")
    verifier = secrets.token_urlsafe(48)
    challenge = pkce_challenge(verifier)
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
    return response.json()


def copy_row(row):
    """Return an unsaved copy of ``row`` with the same column values."""
    model = type(row)
    return model(**{field.attname: getattr(row, field.attname) for field in model._meta.concrete_fields})


def code_pool(*, client: Client, count: int) -> list[str]:
    """Return ``count`` unused codes: copies of the grant the real flow redeemed, PKCE by VERIFIER."""
    model = Grant.objects.filter(application=client).latest("pk")
    expires = timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS)
    codes, rows = [], []
    for _ in range(count):
        code = secrets.token_urlsafe(32)
        row = copy_row(model)
        row.pk, row.used_at, row.token_family = None, None, None
        row.code, row.expires = token_checksum(code), expires
        row.code_challenge, row.code_challenge_method = pkce_challenge(VERIFIER), "S256"
        codes.append(code)
        rows.append(row)
    Grant.objects.bulk_create(rows, batch_size=1000)
    return codes


def refresh_pool(*, client: Client, value: str, count: int) -> list[str]:
    """Return ``count`` live refresh tokens: copies of ``value`` and its access token."""
    model = RefreshToken.objects.select_related("access_token").get(token_checksum=token_checksum(value))
    values, access_tokens, refresh_tokens = [], [], []
    for _ in range(count):
        family = uuid.uuid4()
        access = copy_row(model.access_token)
        access.pk, access.token_family, access.id_token = None, family, None
        set_token_value(access, secrets.token_urlsafe(32))
        refresh = copy_row(model)
        refresh.pk, refresh.token_family, refresh.access_token = None, family, access
        value = secrets.token_urlsafe(32)
        set_token_value(refresh, value)
        values.append(value)
        access_tokens.append(access)
        refresh_tokens.append(refresh)
    # bulk_create sets the new primary keys (RETURNING), which the refresh tokens then point at.
    AccessToken.objects.bulk_create(access_tokens, batch_size=1000)
    RefreshToken.objects.bulk_create(refresh_tokens, batch_size=1000)
    return values


def growth_seed(*, client: Client) -> None:
    """Bulk-insert the growth run's users and dead tokens (expired or revoked long ago)."""
    User = get_user_model()
    for start in range(0, GROWTH_USERS, BATCH):
        User.objects.bulk_create(
            User(username=f"bench-{number}", password="!", email=f"bench-{number}@example.com")
            for number in range(start, min(start + BATCH, GROWTH_USERS))
        )
    user_ids = list(User.objects.filter(username__startswith="bench-").values_list("pk", flat=True))
    now = timezone.now()
    expired, revoked = now - timedelta(days=1), now - timedelta(days=30)

    def access_token(number: int) -> AccessToken:
        row = AccessToken(
            user_id=user_ids[number % len(user_ids)], application=client, scope=SCOPE, expires=expired
        )
        set_token_value(row, secrets.token_urlsafe(32))
        return row

    def refresh_token(number: int) -> RefreshToken:
        row = RefreshToken(user_id=user_ids[number % len(user_ids)], application=client, revoked=revoked)
        set_token_value(row, secrets.token_urlsafe(32))
        return row

    def insert(model: type[_Token], make: Callable[[int], _Token], count: int) -> None:
        for start in range(0, count, BATCH):
            model.objects.bulk_create([make(number) for number in range(start, min(start + BATCH, count))])

    insert(AccessToken, access_token, GROWTH_ACCESS_TOKENS)
    insert(RefreshToken, refresh_token, GROWTH_REFRESH_TOKENS)


def seed() -> dict[str, str | list[str]]:
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
        grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        skip_consent=True,
    )
    machine, machine_secret = client_create(
        name="Benchmark machine client", redirect_uris=[], grant_types=[GrantType.CLIENT_CREDENTIALS]
    )
    opaque, opaque_secret = client_create(
        name="Benchmark machine client, opaque tokens",
        redirect_uris=[],
        grant_types=[GrantType.CLIENT_CREDENTIALS],
        access_token_format=Client.AccessTokenFormat.OPAQUE,
    )
    es256, es256_secret = client_create(
        name="Benchmark machine client, ES256 tokens",
        redirect_uris=[],
        grant_types=[GrantType.CLIENT_CREDENTIALS],
        access_token_algorithm=Algorithm.ES256,
    )
    # Confidential clients: client_create returns their secrets (None only for public clients).
    assert rp_secret and machine_secret and opaque_secret and es256_secret
    if GROWTH:
        growth_seed(client=relying_party)
    host = urlsplit(os.environ["PORCHLIGHT_ISSUER"]).netloc
    tokens = user_tokens(client_id=relying_party.client_id, secret=rp_secret, host=host)
    return {
        "statements": provider_statements(tokens["access_token"], relying_party.client_id),
        "access_token": tokens["access_token"],
        "relying_party_auth": basic_auth(relying_party.client_id, rp_secret),
        "machine_auth": basic_auth(machine.client_id, machine_secret),
        "opaque_auth": basic_auth(opaque.client_id, opaque_secret),
        "es256_auth": basic_auth(es256.client_id, es256_secret),
        "username": USERNAME,
        "password": PASSWORD,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        "codes": code_pool(client=relying_party, count=POOL),
        "refresh_tokens": refresh_pool(client=relying_party, value=tokens["refresh_token"], count=POOL),
    }


def provider_statements(access_token: str, client_id: str) -> dict[str, tuple[str, list[str | int]]]:
    """Return the SQL and parameters UserInfo and introspection send for ``access_token``.

    bench/floor_pg.py runs them alone (``pg_userinfo``, ``pg_introspection``): PostgreSQL's floor
    for the provider's own statements, as Django compiles them for this database.
    """
    alias = router.db_for_read(AccessToken)
    userinfo = PRESENTED_ACCESS_TOKEN.compiled(alias)
    checksum = token_checksum(access_token)
    return {
        "pg_userinfo": (userinfo.sql, userinfo.params_for(checksum)),
        # The relying party introspects its own token (bench.py's introspection workload).
        "pg_introspection": MACHINE_CLIENT_WITH_ACCESS_TOKEN.statement(client_id, checksum, alias=alias),
    }


def main() -> None:
    json.dump(seed(), sys.stdout)


if __name__ == "__main__":
    main()
