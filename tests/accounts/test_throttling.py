"""Brute-force protection: failed logins lock an account or client IP for a growing while."""

import functools
import ipaddress
import re

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.test import RequestFactory

from accounts.throttling import Kind, throttle_attempt, throttle_failure, throttle_success
from audit.models import AuditEvent
from ground.client_address import client_ip
from tests.conftest import PASSWORD, Clock
from tests.environment import load_settings

ATTACKER = "198.51.100.7"
OTHER_IP = "203.0.113.20"
NOT_CORRECT = "The username or password is not correct."


@pytest.fixture(autouse=True)
def limits(settings):
    """Small limits so a test needs few requests: 3 per account, 5 per IP, 5 to 20 minute lockouts."""
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": 3,
        "LOGIN_MAX_FAILURES_PER_IP": 5,
        "LOGIN_FAILURE_WINDOW": 900,
        "LOGIN_LOCKOUT": 300,
        "LOGIN_LOCKOUT_MAX": 1200,
        "BEHIND_PROXY": False,
        "TRUSTED_PROXIES": [],
    }


@pytest.fixture
def clock(clock, throttle_store) -> Clock:
    """Stand-in for the wall clock (and Redis's), moved by the test instead of sleeping.

    Every test that uses it runs with failures counted in the database, then in Redis.
    """
    clock.on_advance.append(throttle_store.age)
    return clock


@functools.cache
def browser() -> BrowserClient:
    # One client for every request: each new client loads the middleware again (slow).
    return BrowserClient()


def sign_in(username: str, password: str, ip: str = ATTACKER, **headers):
    """Post the login form from a fresh browser session at ``ip``; return the response."""
    browser().cookies.clear()
    return browser().post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def error_of(response) -> str:
    """Return the form error a user sees on the login page."""
    assert response.status_code == 200, response.status_code
    match = re.search(r'<div class="error" role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert match, "the login page shows an error"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def fail(username: str, times: int, ip: str = ATTACKER) -> list[str]:
    return [error_of(sign_in(username, "wrong password", ip)) for _ in range(times)]


def test_login_refuses_right_password_after_max_failures_until_lockout_ends(user, clock):
    assert fail("alice", 3) == [NOT_CORRECT, NOT_CORRECT, "Too many failed attempts. Try again in 5 minutes."]
    # The 4th attempt is refused even with the right password, from anywhere, for the lockout.
    assert error_of(sign_in("alice", PASSWORD)) == "Too many failed attempts. Try again in 5 minutes."
    clock.advance(299)
    assert (
        error_of(sign_in("alice", PASSWORD, ip=OTHER_IP))
        == "Too many failed attempts. Try again in 1 minute."
    )
    clock.advance(1)
    assert sign_in("alice", PASSWORD).status_code == 302


def test_login_lockout_message_same_for_existing_and_unknown_account(user, clock):
    existing = fail("alice", 3, ip="198.51.100.1") + [error_of(sign_in("alice", PASSWORD, ip="198.51.100.1"))]
    unknown = fail("nobody", 3, ip="198.51.100.2") + [
        error_of(sign_in("nobody", PASSWORD, ip="198.51.100.2"))
    ]
    assert existing == unknown
    assert existing[-1] == "Too many failed attempts. Try again in 5 minutes."
    assert "locked" not in existing[-1].lower()


def test_login_ip_limit_blocks_other_accounts_from_same_ip(user, clock):
    # 5 failures spread over accounts that never reach their own limit of 3.
    fail("bob", 2)
    fail("carol", 2)
    assert fail("dave", 1) == ["Too many failed attempts. Try again in 5 minutes."]
    assert error_of(sign_in("alice", PASSWORD)) == "Too many failed attempts. Try again in 5 minutes."
    # The same account from another address is not held back by that address's lockout.
    assert sign_in("alice", PASSWORD, ip=OTHER_IP).status_code == 302


def test_login_account_lockout_applies_from_every_ip_but_not_other_accounts(user, django_user_model, clock):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    fail("alice", 3)
    # Spreading guesses over addresses gains nothing: the account itself is locked.
    assert error_of(sign_in("alice", PASSWORD, ip=OTHER_IP)).startswith("Too many failed attempts.")
    # The attacker's address made 3 failures (under its limit of 5): others there still sign in.
    assert sign_in("bob", PASSWORD).status_code == 302


def test_login_counts_case_variants_as_one_account(user, clock):
    fail("alice", 1)
    fail("ALICE", 1)
    assert fail("Alice ", 1, ip=OTHER_IP) == ["Too many failed attempts. Try again in 5 minutes."]
    assert error_of(sign_in("alice", PASSWORD, ip="192.0.2.1")).startswith("Too many failed attempts.")


def test_login_failures_outside_window_do_not_add_up(user, clock):
    fail("alice", 2)
    clock.advance(900)
    assert fail("alice", 2) == [NOT_CORRECT, NOT_CORRECT]
    assert sign_in("alice", PASSWORD).status_code == 302


def test_login_success_clears_account_failures_but_not_ip_failures(user, clock):
    fail("alice", 2)
    assert sign_in("alice", PASSWORD).status_code == 302
    # Alice starts again from zero: two more mistakes do not lock her.
    assert fail("alice", 2) == [NOT_CORRECT, NOT_CORRECT]
    assert sign_in("alice", PASSWORD).status_code == 302
    # The address keeps its 4 failures: one more, for any account, locks it.
    assert fail("mallory", 1) == ["Too many failed attempts. Try again in 5 minutes."]
    assert error_of(sign_in("alice", PASSWORD)).startswith("Too many failed attempts.")


def test_login_lockouts_grow_up_to_the_maximum(user, clock):
    messages = []
    for _ in range(4):
        messages.append(fail("alice", 3, ip=f"192.0.2.{len(messages) + 1}")[-1])
        clock.advance(1200)
    assert messages == [
        "Too many failed attempts. Try again in 5 minutes.",
        "Too many failed attempts. Try again in 10 minutes.",
        "Too many failed attempts. Try again in 20 minutes.",
        "Too many failed attempts. Try again in 20 minutes.",
    ]
    # After a quiet spell as long as the longest lockout, the next lockout is short again.
    clock.advance(1200)
    assert fail("alice", 3, ip="192.0.2.9")[-1] == "Too many failed attempts. Try again in 5 minutes."


def test_login_attempts_while_locked_do_not_extend_lockout(user, clock):
    fail("alice", 3)
    clock.advance(240)
    assert fail("alice", 1, ip=OTHER_IP) == ["Too many failed attempts. Try again in 1 minute."]
    clock.advance(60)
    assert sign_in("alice", PASSWORD, ip=OTHER_IP).status_code == 302


def test_login_behind_proxy_counts_rightmost_untrusted_hop(user, settings, clock):
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "BEHIND_PROXY": True,
        "TRUSTED_PROXIES": [ipaddress.ip_network("10.0.0.0/8")],
    }
    # The client forges the left part of X-Forwarded-For; the proxy appends the real address.
    for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"):
        sign_in(f"user-{forged}", "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{forged}, {ATTACKER}")
    last = sign_in("alice", "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"5.5.5.5, {ATTACKER}")
    assert error_of(last) == "Too many failed attempts. Try again in 5 minutes."
    # Other clients behind the same proxy are not affected.
    assert sign_in("alice", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=OTHER_IP).status_code == 302


@pytest.mark.parametrize(
    ("behind_proxy", "trusted", "remote", "forwarded", "expected"),
    [
        (False, [], "192.0.2.1", "198.51.100.7", "192.0.2.1"),
        (True, ["127.0.0.0/8"], "127.0.0.1", "1.1.1.1, 198.51.100.7", "198.51.100.7"),
        (True, ["10.0.0.0/8"], "10.0.0.2", "1.1.1.1, 198.51.100.7, 10.0.0.5", "198.51.100.7"),
        (True, ["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (True, ["10.0.0.0/8"], "10.0.0.2", "not-an-ip", "10.0.0.2"),
        (True, ["10.0.0.0/8"], "::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),
        # A direct peer that is not one of our proxies cannot choose its address.
        (True, ["10.0.0.0/8"], "192.0.2.1", "198.51.100.7", "192.0.2.1"),
        (True, [], "10.0.0.2", "198.51.100.7", "10.0.0.2"),
        (False, [], "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),
        (False, [], "::ffff:192.0.2.1", "", "192.0.2.1"),
    ],
)
def test_client_ip_takes_rightmost_untrusted_hop(
    settings, behind_proxy, trusted, remote, forwarded, expected
):
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "BEHIND_PROXY": behind_proxy,
        "TRUSTED_PROXIES": [ipaddress.ip_network(n) for n in trusted],
    }
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def attempt(request, kind: Kind, *, right: bool):
    """Make one ``kind`` attempt for alice through the throttle; return its outcome."""
    counted = throttle_attempt(request=request, username="alice", kind=kind)
    if not counted.allowed:
        return counted.decision
    if right:
        throttle_success(attempt=counted)
        return counted.decision
    return throttle_failure(attempt=counted)


def test_throttle_password_success_keeps_second_factor_failures(db, clock):
    # The MFA step's API: a right password must not reset the count of wrong codes.
    request = RequestFactory().post("/", REMOTE_ADDR=ATTACKER)
    for _ in range(2):
        assert attempt(request, "second_factor", right=False).allowed
        assert attempt(request, "password", right=True).allowed
    decision = attempt(request, "second_factor", right=False)
    assert (decision.allowed, decision.retry_after) == (False, 300)
    # Locked codes lock the password step too: starting over does not get round them.
    assert attempt(request, "password", right=True) == decision
    clock.advance(300)
    assert attempt(request, "second_factor", right=False).allowed
    # A completed login (second factor accepted) clears both counts.
    assert attempt(request, "second_factor", right=True).allowed
    elsewhere = RequestFactory().post("/", REMOTE_ADDR=OTHER_IP)
    assert attempt(elsewhere, "second_factor", right=False).allowed
    assert attempt(elsewhere, "second_factor", right=False).allowed


def test_throttle_right_answers_do_not_count_against_the_ip(db, clock):
    request = RequestFactory().post("/", REMOTE_ADDR=ATTACKER)
    for _ in range(10):
        assert attempt(request, "password", right=True).allowed
    # Four failures for other accounts: one short of the IP's limit of 5.
    for username in ("bob", "carol", "dave", "erin"):
        counted = throttle_attempt(request=request, username=username)
        assert throttle_failure(attempt=counted).allowed
    assert attempt(request, "password", right=True).allowed


def test_admin_lists_and_clears_lockout_so_user_can_sign_in(user, staff, clock, throttle_store):
    fail("alice", 3, ip=OTHER_IP)
    locked = staff.get("/admin/accounts/loginfailure/", {"locked": "yes"}).content.decode()
    assert "alice" in locked and OTHER_IP not in locked  # the IP made 3 of its 5
    assert PASSWORD not in locked and "wrong password" not in locked
    unlocked = staff.get("/admin/accounts/loginfailure/", {"locked": "no"}).content.decode()
    assert "alice" not in unlocked
    # Counts below the limit are records only in the database; Redis keeps them out of sight.
    assert (OTHER_IP in unlocked) == (throttle_store.name == "database")

    pk = staff.get("/admin/accounts/loginfailure/", {"q": "alice"}).context["cl"].result_list[0].pk
    response = staff.post(
        "/admin/accounts/loginfailure/",
        {"action": "clear_selected", "_selected_action": [pk]},
        follow=True,
    )
    assert "Cleared 1 record;" in response.content.decode()
    assert sign_in("alice", PASSWORD, ip=OTHER_IP).status_code == 302
    assert AuditEvent.objects.filter(action="login_lockout_cleared", actor_label="root").exists()


def test_admin_delete_lifts_lockout(user, staff, clock):
    fail("alice", 3)
    pk = staff.get("/admin/accounts/loginfailure/", {"q": "alice"}).context["cl"].result_list[0].pk
    record = staff.get(f"/admin/accounts/loginfailure/{pk}/change/").content.decode()
    assert "alice" in record and "Delete" in record
    assert staff.post(f"/admin/accounts/loginfailure/{pk}/delete/", {"post": "yes"}).status_code == 302
    assert sign_in("alice", PASSWORD).status_code == 302


def test_clearlockouts_deletes_only_expired_records(user, clock, throttle_store, capsys):
    fail("bob", 1, ip=OTHER_IP)
    clock.advance(900)
    fail("alice", 3)
    call_command("clearlockouts")
    # bob and OTHER_IP, in the database; with Redis their counts expired there. Alice is locked.
    expired = 2 if throttle_store.name == "database" else 0
    assert f"Deleted {expired} expired" in capsys.readouterr().out
    assert error_of(sign_in("alice", PASSWORD)).startswith("Too many failed attempts.")


def test_clearlockouts_account_lifts_lockout(user, clock, capsys):
    fail("alice", 3)
    call_command("clearlockouts", "--account", "Alice")
    assert "Cleared 1 failed-login record(s)." in capsys.readouterr().out
    assert sign_in("alice", PASSWORD).status_code == 302


def test_settings_refuse_lockout_max_below_lockout(tmp_path):
    result = load_settings(tmp_path, PORCHLIGHT_LOGIN_LOCKOUT="600", PORCHLIGHT_LOGIN_LOCKOUT_MAX="60")
    assert result.returncode != 0
    assert "PORCHLIGHT_LOGIN_LOCKOUT_MAX" in result.stderr


def test_settings_refuse_malformed_trusted_proxies(tmp_path):
    result = load_settings(tmp_path, PORCHLIGHT_TRUSTED_PROXIES="10.0.0.0/8, not-a-network")
    assert result.returncode != 0
    assert "PORCHLIGHT_TRUSTED_PROXIES" in result.stderr


def test_settings_refuse_cache_throttle_without_cache_url(tmp_path):
    # Each process's own cache would give every worker its own count of an attacker's guesses.
    result = load_settings(tmp_path, PORCHLIGHT_CACHE_THROTTLE="true")
    assert result.returncode != 0
    assert "PORCHLIGHT_CACHE_THROTTLE needs PORCHLIGHT_CACHE_URL" in result.stderr
    shared = load_settings(
        tmp_path,
        "settings.PORCHLIGHT['CACHE_THROTTLE']",
        PORCHLIGHT_CACHE_THROTTLE="true",
        PORCHLIGHT_CACHE_URL="redis://127.0.0.1:6379/0",
    )
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.strip() == "True"


def test_throttle_attempts_still_being_checked_take_up_the_limit(db, clock):
    # Counted before the password is checked: three attempts in progress leave no fourth.
    request = RequestFactory().post("/", REMOTE_ADDR=ATTACKER)
    in_progress = [throttle_attempt(request=request, username="alice") for _ in range(3)]
    assert all(counted.allowed for counted in in_progress)
    fourth = throttle_attempt(request=request, username="alice")
    assert not fourth.allowed
    assert fourth.decision.message == "Too many failed attempts. Try again in 5 minutes."
    # One of the three was right: its attempt is given back and the account's count cleared.
    throttle_success(attempt=in_progress[0])
    assert throttle_attempt(request=request, username="alice").allowed


def alerts(response) -> list[str]:
    """Return the errors a user sees on a form page."""
    assert response.status_code == 200, response.status_code
    found = re.findall(r'role="alert"[^>]*>(.*?)</(?:span|div)>', response.content.decode(), re.S)
    return [re.sub(r"<[^>]+>", "", text).strip() for text in found]


def change_password(browser, old: str):
    new = "a new passphrase for alice"
    return browser.post(
        "/accounts/password/", {"old_password": old, "new_password1": new, "new_password2": new}
    )


def test_password_change_counts_wrong_old_passwords_like_logins(logged_in, user, clock):
    assert alerts(change_password(logged_in, "guess 1")) == [
        "Your old password was entered incorrectly. Please enter it again."
    ]
    alerts(change_password(logged_in, "guess 2"))
    assert alerts(change_password(logged_in, "guess 3")) == [
        "Too many failed attempts. Try again in 5 minutes."
    ]
    # The right old password is refused too while the account is locked, here and at login.
    assert alerts(change_password(logged_in, PASSWORD)) == [
        "Too many failed attempts. Try again in 5 minutes."
    ]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert error_of(sign_in("alice", PASSWORD, ip=OTHER_IP)).startswith("Too many failed attempts.")
    clock.advance(300)
    assert change_password(logged_in, PASSWORD).status_code == 302


def test_password_change_right_old_password_clears_the_count(logged_in, user, clock):
    alerts(change_password(logged_in, "guess 1"))
    alerts(change_password(logged_in, "guess 2"))
    assert change_password(logged_in, PASSWORD).status_code == 302
    assert fail("alice", 2, ip=OTHER_IP) == [NOT_CORRECT, NOT_CORRECT]


def test_mfa_remove_last_factor_counts_wrong_passwords_like_logins(mfa_logged_in, totp_device, clock):
    url = f"/accounts/mfa/devices/totp/{totp_device.pk}/remove/"
    assert alerts(mfa_logged_in.post(url, {"password": "guess 1"})) == ["That is not your current password."]
    alerts(mfa_logged_in.post(url, {"password": "guess 2"}))
    assert alerts(mfa_logged_in.post(url, {"password": "guess 3"})) == [
        "Too many failed attempts. Try again in 5 minutes."
    ]
    assert alerts(mfa_logged_in.post(url, {"password": PASSWORD})) == [
        "Too many failed attempts. Try again in 5 minutes."
    ]
    assert "Set up an authenticator app" not in mfa_logged_in.get("/accounts/mfa/").content.decode()
    assert error_of(sign_in("alice", PASSWORD, ip=OTHER_IP)).startswith("Too many failed attempts.")
    clock.advance(300)
    assert mfa_logged_in.post(url, {"password": PASSWORD}).status_code == 302
    assert "Set up an authenticator app" in mfa_logged_in.get("/accounts/mfa/").content.decode()
