"""An invitation link vouches only for the address it was mailed to, not one staff typed in later."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts.models import Invitation, User
from tests.admin_forms import change_user_in_admin

NEW_PASSWORD = "a long walk to the lighthouse"
INVITE = "/admin/accounts/invitation/add/"
FORM = "/accounts/invitation/"
OLD = "robin@example.com"
NEW = "robin@elsewhere.example"


@pytest.fixture
def mailed(django_capture_on_commit_callbacks):
    """Send the mails queued for after commit: a test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def invited(staff, mailed, mailoutbox) -> tuple[User, str]:
    """Invite Robin at ``OLD``; return the account and the link mailed there."""
    with mailed():
        staff.post(INVITE, {"email": OLD, "first_name": "Robin", "last_name": "Ames", "username": ""})
    [mail] = mailoutbox
    assert mail.to == [OLD]
    return User.objects.get(username=OLD), link_in(mail)


def link_in(mail) -> str:
    """Return the path and query of the invitation link in ``mail``."""
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/invitation/\?token=\S+)", mail.body)
    assert link, mail.body
    return link.group(1)


def change_email_in_admin(staff, user: User, email: str) -> None:
    """Type a new address into the user's admin form and save it, as staff do."""
    response = change_user_in_admin(staff, user, email=email)
    assert response.status_code == 302, response.context["adminform"].form.errors


def choose_password(browser):
    return browser.post(FORM, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def assert_untouched(user: User) -> None:
    user.refresh_from_db()
    assert user.email == NEW
    assert not user.email_verified
    assert not user.has_usable_password()
    assert Invitation.objects.get(user=user).accepted is None


def test_invitation_link_to_the_old_address_is_invalid_after_staff_change_it(staff, invited):
    robin, link = invited
    change_email_in_admin(staff, robin, NEW)

    browser = BrowserClient()
    opened = browser.get(link)
    assert opened.status_code == 400
    page = opened.content.decode()
    assert "This invitation link no longer works" in page
    assert 'href="/accounts/login/"' in page  # a way on
    # Nor does the form answer once the link is refused.
    assert choose_password(browser).status_code == 400
    assert_untouched(robin)
    assert (
        BrowserClient().post("/accounts/login/", {"username": OLD, "password": NEW_PASSWORD}).status_code
        == 200
    )


def test_invitation_form_opened_before_the_change_is_refused_after_it(staff, invited):
    robin, link = invited
    browser = BrowserClient()
    assert browser.get(link).status_code == 302
    assert b"new_password1" in browser.get(FORM).content

    change_email_in_admin(staff, robin, NEW)
    done = choose_password(browser)
    assert done.status_code == 400
    assert "This invitation link no longer works" in done.content.decode()
    assert_untouched(robin)


def test_invitation_resent_after_the_change_goes_to_the_new_address_and_works(
    staff, invited, mailed, mailoutbox
):
    robin, old_link = invited
    change_email_in_admin(staff, robin, NEW)
    with mailed():
        staff.post(f"/admin/accounts/user/{robin.pk}/act/invitation_resend/")
    assert mailoutbox[-1].to == [NEW]

    browser = BrowserClient()
    assert browser.get(link_in(mailoutbox[-1])).status_code == 302
    done = choose_password(browser)
    assert done.status_code == 302 and done["Location"] == "/accounts/"
    robin.refresh_from_db()
    assert robin.email == NEW and robin.email_verified and robin.check_password(NEW_PASSWORD)
    # The first link, to the old address, stays dead.
    assert BrowserClient().get(old_link).status_code == 400


def test_invitation_sent_before_the_upgrade_is_bound_to_the_address_the_account_has(transactional_db, user):
    executor = MigrationExecutor(connection)
    before = [("accounts", "0009_account_lifecycle_and_export")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("accounts", "Invitation")
    old.objects.create(user_id=user.pk, token_hash="0" * 64, expires=timezone.now() + timedelta(days=1))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Invitation.objects.get(user=user).email == user.email
