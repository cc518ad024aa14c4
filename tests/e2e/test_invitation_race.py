"""One invitation link used from several browsers at once sets one password.

An invitation is a single-use credential: whoever opens the link chooses the account's password.
Each racer here is its own browser session with its own HTTP connection to the live server; they
all open the link, then submit a different password at the same moment. On PostgreSQL the
invitation's row lock decides the winner.
"""

import re

import requests

from accounts.invitations.services import Invitee, invitation_create
from accounts.models import Invitation, User
from audit.models import AuditEvent
from tests.conftest import concurrent_database
from tests.e2e.conftest import form_on, race

pytestmark = concurrent_database

RACERS = 6
ACCEPT = "/accounts/invitation/"


def opened_link(issuer: str, token: str) -> tuple[requests.Session, dict[str, str]]:
    """Open the invitation link in a new browser; return it and the password form's fields."""
    session = requests.Session()
    page = session.get(f"{issuer}{ACCEPT}", params={"token": token}, timeout=10)
    assert page.status_code == 200 and page.url == f"{issuer}{ACCEPT}", (page.status_code, page.url)
    return session, form_on(page, ACCEPT).fields


def test_race_one_invitation_accepted_from_several_browsers_sets_one_password(issuer, mailoutbox):
    invitation = invitation_create(invitee=Invitee("robin@example.com", "Robin"), created_by=None)
    token = re.search(r"token=([\w-]+)", mailoutbox[-1].body).group(1)
    browsers = [opened_link(issuer, token) for _ in range(RACERS)]
    passwords = [f"a long walk to the lighthouse, take {index}" for index in range(RACERS)]
    sent = iter(range(RACERS))

    def submit() -> requests.Response:
        index = next(sent)  # each thread takes its own browser; next() on a range iterator is atomic
        session, fields = browsers[index]
        data = {**fields, "new_password1": passwords[index], "new_password2": passwords[index]}
        response = session.post(
            f"{issuer}{ACCEPT}", data=data, headers={"Referer": f"{issuer}{ACCEPT}"}, allow_redirects=False
        )
        response.racer = index
        return response

    responses = race(RACERS, submit)
    winners = [response for response in responses if response.status_code == 302]
    assert len(winners) == 1, [(r.status_code, r.text[:200]) for r in responses]
    for loser in (response for response in responses if response.status_code != 302):
        # The form again with the reason, or (if the winner had already finished) the spent link.
        assert loser.status_code in (200, 400), loser.status_code
        assert "already been used" in loser.text or "no longer works" in loser.text, loser.text[:500]
    user = User.objects.get(username="robin@example.com")
    assert user.check_password(passwords[winners[0].racer])
    assert not any(
        user.check_password(password) for index, password in enumerate(passwords) if index != winners[0].racer
    )
    assert Invitation.objects.get(pk=invitation.pk).accepted is not None
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1
