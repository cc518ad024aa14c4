"""One sign-up confirmation link used from several browsers at once confirms the account once.

The link (the e-mail verification token) is spent by confirming: the account's row lock decides
which of the concurrent confirmations does it; the others are told the link no longer works.
"""

import re
from urllib.parse import urlsplit

import pytest
import requests

from accounts.models import SignUp, User
from audit.models import AuditEvent
from tests.conftest import concurrent_database
from tests.e2e.conftest import form_on, race

pytestmark = concurrent_database

# Under PORCHLIGHT_LOGIN_MAX_FAILURES_PER_ACCOUNT: each confirmation is counted like a sign-in.
RACERS = 4
PASSWORD = "a long walk to the lighthouse"
LINK = re.compile(r"https?://[^/\s]+(/accounts/signup/verify/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def open_signup(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "open"}


def test_race_one_signup_link_confirmed_from_several_browsers_confirms_once(open_signup, issuer, mailoutbox):
    signup_page = requests.Session()
    form = form_on(signup_page.get(f"{issuer}/accounts/signup/", timeout=10), "/accounts/signup/")
    data = {**form.fields, "email": "robin@example.com", "password1": PASSWORD, "password2": PASSWORD}
    sent = signup_page.post(
        f"{issuer}/accounts/signup/", data=data, headers={"Referer": f"{issuer}/"}, allow_redirects=False
    )
    assert sent.status_code == 302, sent.text[:500]
    link = issuer + LINK.search(mailoutbox[-1].body).group(1)

    browsers = []
    for _ in range(RACERS):
        session = requests.Session()
        page = session.get(link, timeout=10)
        assert page.status_code == 200
        browsers.append((session, form_on(page, urlsplit(link).path).fields))
    taken = iter(range(RACERS))

    def submit() -> requests.Response:
        session, fields = browsers[next(taken)]
        return session.post(
            link, data={**fields, "password": PASSWORD}, headers={"Referer": link}, allow_redirects=False
        )

    responses = race(RACERS, submit)
    winners = [response for response in responses if response.status_code == 302]
    assert len(winners) == 1, [(r.status_code, r.text[:200]) for r in responses]
    for loser in (response for response in responses if response.status_code != 302):
        assert loser.status_code == 400 and "no longer works" in loser.text, loser.text[:500]
    user = User.objects.get(email="robin@example.com")
    assert user.is_active and user.email_verified
    assert SignUp.objects.get(user=user).status == SignUp.Status.ACTIVE
    assert AuditEvent.objects.filter(action="signup.verified").count() == 1


def test_race_same_address_signed_up_from_several_browsers_makes_one_account(
    open_signup, settings, issuer, mailoutbox
):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP_MAX_PER_ADDRESS": RACERS}
    browsers = []
    for _ in range(RACERS):
        session = requests.Session()
        form = form_on(session.get(f"{issuer}/accounts/signup/", timeout=10), "/accounts/signup/")
        browsers.append((session, form.fields))
    taken = iter(range(RACERS))

    def submit() -> requests.Response:
        session, fields = browsers[next(taken)]
        data = {**fields, "email": "robin@example.com", "password1": PASSWORD, "password2": PASSWORD}
        return session.post(
            f"{issuer}/accounts/signup/", data=data, headers={"Referer": f"{issuer}/"}, allow_redirects=False
        )

    responses = race(RACERS, submit)
    # Every browser sees the same page, whichever made the account.
    assert [response.status_code for response in responses] == [302] * RACERS
    assert {response.headers["Location"] for response in responses} == {"/accounts/signup/sent/"}
    assert User.objects.filter(email="robin@example.com").count() == 1
    links = [message for message in mailoutbox if LINK.search(message.body)]
    assert len(links) == 1 and len(mailoutbox) == RACERS
