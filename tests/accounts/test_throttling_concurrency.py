"""Concurrent password guesses against a live server: no burst gets more guesses than the limit.

Each guess is counted before its password is checked, so guesses that arrive together cannot all
pass a check made before any of them failed. Run on PostgreSQL too (``tests/pg_cluster.py``).
"""

import re
import threading
import time

import pytest
import requests
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection

from tests.conftest import PASSWORD, concurrent_database

# Seconds one password check takes: Argon2 on a busy server, so concurrent guesses overlap.
CHECK_SECONDS = 1.5
GUESSES = 8
LIMIT = 3
LOCKED = "Too many failed attempts."

pytestmark = concurrent_database

# Every password the server checked, in order: how many guesses the attacker really got.
checked: list[str] = []


class SlowPasswordHasher(MD5PasswordHasher):
    """A fast test hasher made as slow to verify as Argon2, recording what it checks."""

    algorithm = "slow_md5_for_tests"

    def verify(self, password, encoded):
        checked.append(password)
        time.sleep(CHECK_SECONDS)
        return super().verify(password, encoded)


@pytest.fixture
def server(live_server, transactional_db, throttle_store, settings, monkeypatch, django_user_model) -> str:
    """The provider on a live server, with alice's password checked by the slow hasher.

    Failures are counted in the database, then in Redis (PORCHLIGHT_CACHE_THROTTLE).
    """
    # As tests/e2e/conftest.py's issuer: no idle PostgreSQL session may outlive the test.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    settings.PASSWORD_HASHERS = [f"{__name__}.SlowPasswordHasher"]
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": LIMIT,
        "LOGIN_MAX_FAILURES_PER_IP": 100,
        "LOGIN_FAILURE_WINDOW": 900,
        "LOGIN_LOCKOUT": 300,
        "LOGIN_LOCKOUT_MAX": 1200,
        "BEHIND_PROXY": False,
    }
    django_user_model.objects.create_user(username="alice", password=PASSWORD)
    checked.clear()
    return live_server.url


class LoginPage:
    """A browser that has loaded the login page and can post the form once."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/accounts/login/"
        self.http = requests.Session()
        page = self.http.get(self.url, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        self.token = token.group(1)

    def sign_in(self, password: str) -> requests.Response:
        data = {"csrfmiddlewaretoken": self.token, "username": "alice", "password": password}
        return self.http.post(self.url, data=data, allow_redirects=False, timeout=60)


def signed_in(response: requests.Response) -> bool:
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 302


def in_parallel(pages: list[LoginPage], passwords: list[str]) -> list[requests.Response]:
    """Post every password at once, each from its own browser; return the responses in order."""
    responses: list = [None] * len(pages)
    barrier = threading.Barrier(len(pages))

    def post(index: int) -> None:
        barrier.wait()
        responses[index] = pages[index].sign_in(passwords[index])

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(pages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_login_right_password_during_concurrent_guesses_is_refused(server):
    pages = [LoginPage(server) for _ in range(GUESSES + 1)]
    wrong = [f"guess {n}" for n in range(GUESSES)]
    responses: list = []
    guesses = threading.Thread(target=lambda: responses.extend(in_parallel(pages[:GUESSES], wrong)))
    guesses.start()
    # Once the limit's worth of guesses is being checked, and none has failed yet: checking
    # before counting would let the right password through here, after the guesses that lock
    # the account. (Waiting for that moment, not a fixed time: a busy machine starts them late.)
    deadline = time.monotonic() + 30
    while len(checked) < LIMIT:
        assert time.monotonic() < deadline, f"the guesses were not checked: {checked}"
        time.sleep(0.01)
    right = pages[GUESSES].sign_in(PASSWORD)
    guesses.join()

    assert not signed_in(right)
    assert LOCKED in right.text
    assert not any(signed_in(response) for response in responses)
    assert len(checked) == LIMIT
    # Afterwards the account stays locked, even for the right password.
    assert LOCKED in LoginPage(server).sign_in(PASSWORD).text


def test_login_concurrent_burst_checks_at_most_the_limit(server):
    passwords = [f"guess {n}" for n in range(GUESSES)]
    passwords.insert(GUESSES // 2, PASSWORD)
    responses = in_parallel([LoginPage(server) for _ in passwords], passwords)

    outcomes = [signed_in(response) for response in responses]  # never a 500
    assert len(checked) <= LIMIT
    # The right password signs in exactly when it was among the guesses checked.
    assert outcomes[GUESSES // 2] == (PASSWORD in checked)
    assert sum(outcomes) == outcomes[GUESSES // 2]
    refused = [response for response, ok in zip(responses, outcomes, strict=True) if not ok]
    assert all(LOCKED in response.text or "not correct" in response.text for response in refused)
