# Django must be set up before the project's models can be imported.
# ruff: noqa: E402
"""Measure ID token signing on one core and print signatures per second per algorithm as JSON.

Run by bench.py against a temporary SQLite database (PORCHLIGHT_VAR_DIR). Signing goes through
``oidc_provider.keys.sign()``, the path finalize_id_token takes, with a typical ID token.
"""

import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "porchlight.settings")

import django

django.setup()

from django.core.management import call_command

from oidc_provider import keys, rotation
from oidc_provider.models import KEY_ALGORITHMS

SECONDS_PER_ALGORITHM = 1.5


def id_token_claims() -> dict:
    """Return claims shaped like an ID token for the openid, profile and email scopes."""
    now = int(time.time())
    return {
        "iss": "http://127.0.0.1:8000",
        "sub": "3f2b8c1e-6a4d-4e0b-9a57-2c1d8e7f9b10",
        "aud": "bench-client-id-0123456789abcdefghijkl",
        "azp": "bench-client-id-0123456789abcdefghijkl",
        "iat": now,
        "exp": now + 900,
        "auth_time": now - 60,
        "amr": ["pwd"],
        "acr": "pwd",
        "nonce": secrets.token_urlsafe(16),
        "at_hash": secrets.token_urlsafe(16),
        "sid": secrets.token_urlsafe(24),
        "jti": "5b0c7c9e-2f5e-4b8e-8a0e-6c2d1f3a4b5c",
        "name": "Demo User",
        "given_name": "Demo",
        "family_name": "User",
        "preferred_username": "demo",
        "email": "demo@example.com",
        "email_verified": True,
        "updated_at": now - 86400,
    }


def signatures_per_second(algorithm: str, claims: dict) -> float:
    """Sign ``claims`` repeatedly for a bounded time and return the rate."""
    for _ in range(20):  # warm-up: key set loaded, code paths hot
        keys.sign(claims, algorithm=algorithm)
    count = 0
    started = time.perf_counter()
    deadline = started + SECONDS_PER_ALGORITHM
    while time.perf_counter() < deadline:
        keys.sign(claims, algorithm=algorithm)
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    rotation.keys_rotate()
    # HS256 signs with a client secret, not a managed key: not measured here.
    # One core, so the figure is per core whatever else the machine is doing.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    claims = id_token_claims()
    rates = {algorithm: signatures_per_second(algorithm, claims) for algorithm in KEY_ALGORITHMS}
    json.dump(rates, sys.stdout)


if __name__ == "__main__":
    main()
