"""Login and logout pages, and the authentication context they record."""

import time

from accounts.authentication import SESSION_KEY
from tests.conftest import PASSWORD


def test_login_records_auth_time_and_method(browser, user):
    before = int(time.time())
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    context = browser.session[SESSION_KEY]
    assert before <= context["auth_time"] <= int(time.time())
    assert context["amr"] == ["pwd"]
    assert context["sid"]


def test_login_wrong_password_does_not_reveal_account(browser, user):
    wrong = browser.post("/accounts/login/", {"username": "alice", "password": "nope"})
    missing = browser.post("/accounts/login/", {"username": "nobody", "password": "nope"})
    assert wrong.status_code == missing.status_code == 200
    assert b"The username or password is not correct." in wrong.content
    assert b"The username or password is not correct." in missing.content


def test_login_page_has_labelled_fields(browser, db):
    page = browser.get("/accounts/login/").content.decode()
    assert '<label for="id_username">' in page
    assert '<label for="id_password">' in page


def test_login_uses_argon2_first(settings, user):
    # The test settings put a fast hasher first; production settings must not.
    from porchlight import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_logout_ends_session(logged_in):
    response = logged_in.post("/accounts/logout/")
    assert response.status_code in (200, 302)
    assert logged_in.get("/accounts/").status_code == 302
