"""Porchlight's settings plus two views that show what a request carries (tests/ops/test_serve.py)."""

from porchlight.settings import *  # noqa: F403

ROOT_URLCONF = "tests.serving_urls"
