"""Staff invite people instead of typing passwords for them: one link, used once, before it expires."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts.models import GroupSettings, Invitation, User
from audit.models import AuditEvent
from tests.accounts.conftest import database_text

NEW_PASSWORD = "a long walk to the lighthouse"
INVITE = "/admin/accounts/invitation/add/"


@pytest.fixture
def mailed(django_capture_on_commit_callbacks):
    """Send the mails queued for after commit: a test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def invite(staff, mailed, **fields):
    data = {
        "email": "robin@example.com",
        "first_name": "Robin",
        "last_name": "Ames",
        "username": "",
        **fields,
    }
    with mailed():
        return staff.post(INVITE, data, follow=True)


def link_in(mail) -> str:
    """Return the path and query of the invitation link in ``mail``."""
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/invitation/\?token=\S+)", mail.body)
    assert link, mail.body
    return link.group(1)


def accept(link: str, password: str = NEW_PASSWORD, again: str | None = None):
    """Open the link in a fresh browser and choose a password; return (browser, final response)."""
    browser = BrowserClient()
    opened = browser.get(link)
    if opened.status_code != 302:
        return browser, opened
    # The token leaves the address bar before the form is shown.
    assert opened["Location"] == "/accounts/invitation/"
    assert b"new_password1" in browser.get("/accounts/invitation/").content
    data = {"new_password1": password, "new_password2": again or password}
    return browser, browser.post("/accounts/invitation/", data)


def test_invitation_link_lets_the_person_choose_a_password_and_verifies_their_email(
    mailed, staff, root, mailoutbox
):
    response = invite(staff, mailed)
    assert "Invited robin@example.com" in " ".join(str(m) for m in response.context["messages"])
    robin = User.objects.get(username="robin@example.com")
    assert not robin.has_usable_password() and not robin.email_verified
    assert (robin.first_name, robin.last_name) == ("Robin", "Ames")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["robin@example.com"]
    assert "Your username is: robin@example.com" in mailoutbox[0].body

    browser, done = accept(link_in(mailoutbox[0]))
    assert done.status_code == 302 and done["Location"] == "/accounts/"
    assert browser.get("/accounts/").status_code == 200  # signed in
    robin.refresh_from_db()
    assert robin.check_password(NEW_PASSWORD) and robin.email_verified
    assert AuditEvent.objects.get(action="invitation.create", target="robin@example.com").actor == root
    assert AuditEvent.objects.get(action="invitation.accept", target="robin@example.com").actor == robin
    # From now on the password signs them in like anyone else.
    signed_in = BrowserClient().post(
        "/accounts/login/", {"username": "robin@example.com", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302


def test_invitation_link_works_once(mailed, staff, mailoutbox):
    invite(staff, mailed)
    link = link_in(mailoutbox[0])
    accept(link)
    _, again = accept(link, password="another long passphrase here")
    assert again.status_code == 400 and b"no longer works" in again.content
    assert User.objects.get(username="robin@example.com").check_password(NEW_PASSWORD)


def test_invitation_link_expires(mailed, staff, mailoutbox):
    invite(staff, mailed)
    Invitation.objects.update(expires=timezone.now() - timedelta(seconds=1))
    _, response = accept(link_in(mailoutbox[0]))
    assert response.status_code == 400
    assert not User.objects.get(username="robin@example.com").has_usable_password()


def test_invitation_password_rules_apply_and_a_mistake_keeps_the_link(mailed, staff, mailoutbox):
    invite(staff, mailed)
    _, refused = accept(link_in(mailoutbox[0]), password="password")
    assert refused.status_code == 200 and b"too common" in refused.content
    _, mismatch = accept(link_in(mailoutbox[0]), again="something else entirely")
    assert mismatch.status_code == 200
    _, done = accept(link_in(mailoutbox[0]))
    assert done.status_code == 302


def test_invitation_resend_replaces_the_link(mailed, staff, root, mailoutbox):
    invite(staff, mailed)
    invitation = Invitation.objects.get()
    with mailed():
        staff.post("/admin/accounts/invitation/", {"action": "resend", "_selected_action": [invitation.pk]})
    assert len(mailoutbox) == 2
    _, old = accept(link_in(mailoutbox[0]))
    assert old.status_code == 400
    _, new = accept(link_in(mailoutbox[1]))
    assert new.status_code == 302
    assert AuditEvent.objects.filter(action="invitation.resend", actor=root).exists()


def test_invitation_resend_from_the_user_page(mailed, staff, mailoutbox):
    invite(staff, mailed)
    robin = User.objects.get(username="robin@example.com")
    page = staff.get(f"/admin/accounts/user/{robin.pk}/change/").content.decode()
    assert "link sent" in page
    with mailed():
        staff.post(f"/admin/accounts/user/{robin.pk}/act/invitation_resend/")
    assert len(mailoutbox) == 2


def test_invitation_withdraw_removes_the_unused_account(mailed, staff, root, mailoutbox):
    invite(staff, mailed)
    invitation = Invitation.objects.get()
    staff.post("/admin/accounts/invitation/", {"action": "withdraw", "_selected_action": [invitation.pk]})
    assert not User.objects.filter(username="robin@example.com").exists()
    _, response = accept(link_in(mailoutbox[0]))
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="invitation.withdraw")
    assert event.actor == root and event.detail == {"email": "robin@example.com"}


def test_invitation_cannot_withdraw_an_account_in_use(mailed, staff, mailoutbox):
    invite(staff, mailed)
    accept(link_in(mailoutbox[0]))
    invitation = Invitation.objects.get()
    response = staff.post(
        "/admin/accounts/invitation/",
        {"action": "withdraw", "_selected_action": [invitation.pk]},
        follow=True,
    )
    assert "deactivate the user instead" in response.content.decode()
    assert User.objects.filter(username="robin@example.com").exists()


def test_invitation_takes_the_person_through_enrollment_when_a_group_requires_it(mailed, staff, mailoutbox):
    invite(staff, mailed)
    group = Group.objects.create(name="finance")
    GroupSettings.objects.create(group=group, require_mfa=True)
    group.user_set.add(User.objects.get(username="robin@example.com"))
    _, done = accept(link_in(mailoutbox[0]))
    assert urlsplit(done["Location"]).path == "/accounts/mfa/totp/"
    assert "required=1" in done["Location"]


def test_invitation_refuses_someone_who_already_has_an_account(mailed, staff, user, mailoutbox):
    response = invite(staff, mailed, email="ALICE@example.com")
    assert "already a user with the e-mail address alice@example.com" in response.content.decode()
    assert mailoutbox == []


def test_invitation_keeps_only_a_hash_of_the_link(mailed, staff, mailoutbox):
    invite(staff, mailed)
    token = re.search(r"token=(\S+)", mailoutbox[0].body).group(1)
    assert token.lower() not in database_text()


def test_invitation_import_invites_everyone_in_the_file(mailed, staff, mailoutbox):
    csv = "email,first_name,last_name\nrobin@example.com,Robin,Ames\nsam@example.com,Sam,Okafor\n"
    upload = SimpleUploadedFile("people.csv", csv.encode(), content_type="text/csv")
    with mailed():
        response = staff.post("/admin/accounts/invitation/import/", {"file": upload}, follow=True)
    assert "Invited 2 people" in response.content.decode()
    assert sorted(mail.to[0] for mail in mailoutbox) == ["robin@example.com", "sam@example.com"]
    assert User.objects.get(email="sam@example.com").last_name == "Okafor"


@pytest.mark.parametrize(
    ("csv", "problem"),
    [
        ("email\nrobin@example.com\nnot-an-address\n", "Line 3: Enter a valid email address."),
        ("email\nrobin@example.com\nROBIN@example.com\n", "Line 3: robin@example.com appears twice."),
        ("mail,name\nrobin@example.com,Robin\n", "The first line must name the columns"),
        ("email\n", "names nobody to invite"),
    ],
)
def test_invitation_import_invites_no_one_if_a_line_is_wrong(mailed, staff, mailoutbox, csv, problem):
    upload = SimpleUploadedFile("people.csv", csv.encode(), content_type="text/csv")
    with mailed():
        response = staff.post("/admin/accounts/invitation/import/", {"file": upload})
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not User.objects.exclude(username="root").exists()
    assert mailoutbox == []


def test_invitation_pages_need_staff(logged_in):
    assert logged_in.get(INVITE).status_code in (302, 403)
    assert logged_in.get("/admin/accounts/invitation/import/").status_code in (302, 403)
