"""Password reset requests: a few mails per address and per client IP, and one answer for all."""

import re

import pytest
from django.test import Client as BrowserClient

from audit.models import AuditEvent

ATTACKER = "198.51.100.7"
RESET = "/accounts/password/reset/"


@pytest.fixture(autouse=True)
def limits(settings, throttle_store):
    """3 mails per address and 5 per IP an hour, counted in the database, then in Redis."""
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "PASSWORD_RESET_MAX_PER_ACCOUNT": 3,
        "PASSWORD_RESET_MAX_PER_IP": 5,
        "PASSWORD_RESET_WINDOW": 3600,
        "BEHIND_PROXY": False,
    }


@pytest.fixture
def later(later, throttle_store):
    """Move the clock (and Redis's) on by ``seconds`` instead of sleeping."""

    def advance(seconds: int) -> None:
        later(seconds)
        throttle_store.age(seconds)

    return advance


def request_reset(email: str, ip: str = ATTACKER):
    """Ask for a reset link from a fresh browser at ``ip``; return what the browser is shown."""
    return BrowserClient().post(RESET, {"email": email}, REMOTE_ADDR=ip, follow=True)


def answer(response) -> tuple:
    """Return everything the requester sees: where they end up and the page text.

    The language switcher's CSRF token is masked afresh for every response (Django's defence
    against BREACH), so it tells nothing apart and is left out.
    """
    content = re.sub(
        rb'name="csrfmiddlewaretoken" value="[^"]+"', b'name="csrfmiddlewaretoken"', response.content
    )
    return tuple(response.redirect_chain), response.status_code, content


def test_password_reset_sends_at_most_three_mails_per_address(user, mailoutbox, later):
    # Each from another address, so only the account's limit applies.
    answers = [answer(request_reset("alice@example.com", ip=f"192.0.2.{n}")) for n in range(6)]
    assert len(mailoutbox) == 3
    assert all(mail.to == ["alice@example.com"] for mail in mailoutbox)
    # The limited requests are answered exactly like the ones that sent mail.
    assert len(set(answers)) == 1
    later(3600)
    request_reset("alice@example.com", ip="192.0.2.99")
    assert len(mailoutbox) == 4


def test_password_reset_answer_same_for_limited_unknown_and_sent(user, mailoutbox):
    sent = answer(request_reset("alice@example.com"))
    for _ in range(3):
        request_reset("alice@example.com")
    limited = answer(request_reset("alice@example.com", ip="192.0.2.1"))
    unknown = answer(request_reset("nobody@example.com", ip="192.0.2.2"))
    assert sent == limited == unknown
    assert sent[0][-1][0] == "/accounts/password/reset/sent/"
    assert len(mailoutbox) == 3


def test_password_reset_counts_case_variants_as_one_address(user, mailoutbox):
    variants = ["alice@example.com", "ALICE@example.com", "Alice@Example.COM", " alice@EXAMPLE.com"]
    for n, email in enumerate(variants):
        request_reset(email, ip=f"192.0.2.{n}")
    assert len(mailoutbox) == 3


def test_password_reset_ip_limit_covers_every_address(user, mailoutbox):
    # Unknown addresses count too: five requests use up the IP's hour.
    for n in range(5):
        request_reset(f"nobody{n}@example.com")
    request_reset("alice@example.com")
    assert mailoutbox == []
    # Another client still gets alice's mail.
    request_reset("alice@example.com", ip="203.0.113.20")
    assert len(mailoutbox) == 1


def test_password_reset_limit_is_audited_without_mailing(user, mailoutbox):
    for _ in range(4):
        request_reset("alice@example.com")
    assert len(mailoutbox) == 3
    event = AuditEvent.objects.get(action="password_reset_limited")
    assert "alice@example.com" in event.target
