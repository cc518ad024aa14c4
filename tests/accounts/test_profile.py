"""Self-service: profile, password change and password reset."""

import re

from django.core import mail

from tests.conftest import PASSWORD


def profile_data(**changes) -> dict:
    data = {
        "first_name": "Alice",
        "middle_name": "",
        "last_name": "Liddell",
        "nickname": "",
        "preferred_username": "",
        "email": "alice@example.com",
        "phone_number": "+441632960000",
        "profile": "",
        "picture": "",
        "website": "",
        "gender": "",
        "birthdate": "",
        "zoneinfo": "",
        "locale": "",
        "address_street_address": "",
        "address_locality": "Oxford",
        "address_region": "",
        "address_postal_code": "",
        "address_country": "GB",
    }
    data.update(changes)
    return data


def test_profile_edit_changes_claims_and_updated_at(logged_in, user):
    before = user.updated_at
    response = logged_in.post(
        "/accounts/profile/",
        profile_data(nickname="Al", zoneinfo="Europe/London", birthdate="1990-05-04"),
        follow=True,
    )
    assert response.status_code == 200
    assert b"Your profile was saved." in response.content
    user.refresh_from_db()
    assert (user.nickname, user.zoneinfo, user.birthdate.isoformat()) == ("Al", "Europe/London", "1990-05-04")
    assert user.updated_at > before


def test_profile_rejects_bad_values_with_messages(logged_in, user):
    response = logged_in.post(
        "/accounts/profile/", profile_data(zoneinfo="Mars/Olympus", phone_number="12345", locale="not a tag!")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Use a time zone name" in page and "international format" in page and "language tag" in page
    user.refresh_from_db()
    assert user.zoneinfo == ""


def test_profile_email_change_clears_verification(logged_in, user):
    logged_in.post("/accounts/profile/", profile_data(email="new@example.com"))
    user.refresh_from_db()
    assert user.email == "new@example.com" and user.email_verified is False


def test_profile_cannot_change_subject_or_username(logged_in, user):
    logged_in.post("/accounts/profile/", profile_data(subject="forged", username="mallory"))
    user.refresh_from_db()
    assert user.username == "alice" and user.subject != "forged"


def test_profile_requires_login(browser, db):
    assert browser.get("/accounts/profile/").status_code == 302


def test_password_change_keeps_session(logged_in, user):
    page = logged_in.get("/accounts/password/")
    assert b'name="keep_session"' in page.content and b"checked" in page.content
    response = logged_in.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new long passphrase 42",
            "new_password2": "a new long passphrase 42",
            "keep_session": "on",
        },
    )
    assert response.status_code == 302
    assert logged_in.get("/accounts/").status_code == 200
    user.refresh_from_db()
    assert user.check_password("a new long passphrase 42")


def test_password_change_needs_old_password(logged_in, user):
    response = logged_in.post(
        "/accounts/password/",
        {
            "old_password": "wrong",
            "new_password1": "a new long passphrase 42",
            "new_password2": "a new long passphrase 42",
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_by_email_link(browser, user):
    response = browser.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = browser.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = browser.post(
        set_url, {"new_password1": "reset passphrase 2026!", "new_password2": "reset passphrase 2026!"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("reset passphrase 2026!")
    # The link works once.
    assert b"no longer works" in browser.get(link, follow=True).content


def test_password_reset_does_not_reveal_unknown_email(browser, user):
    response = browser.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 0
