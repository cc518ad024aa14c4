"""Self-service: profile, password change and password reset."""

import re

from django.core import mail

from tests.conftest import PASSWORD, authorize, exchange


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


def visible_text(response) -> str:
    """Return the page's text as a reader sees it: no tags, no attribute values."""
    content = response.content.decode()
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content))


def test_profile_page_speaks_plainly_in_groups(logged_in, user):
    page = logged_in.get("/accounts/profile/")
    text = visible_text(page)
    for jargon in ("E.164", "BCP47", "BCP 47", "preferred_username", "zoneinfo", "given_name", "locality"):
        assert jargon not in text
    for label in (
        "Username shown to apps",
        "Phone number",
        "include the country code, e.g. +44 20 7946 0000",
    ):
        assert label.casefold() in text.casefold()
    legends = re.findall(r"<legend[^>]*>([^<]*)</legend>", page.content.decode())
    assert legends == ["Name", "Contact", "Address", "Language and region", "About you"]


def test_profile_time_zone_and_language_are_lists(logged_in, user):
    content = logged_in.get("/accounts/profile/").content.decode()
    zones = content.split('<select name="zoneinfo"')[1].split("</select>")[0]
    assert '<optgroup label="Europe">' in zones and '<option value="Europe/London">London</option>' in zones
    languages = content.split('<select name="locale"')[1].split("</select>")[0]
    # Stored as language tags; shown by name, in the language itself.
    assert '<option value="pt-BR">português (Brasil)</option>' in languages
    assert '<option value="en-GB">English (United Kingdom)</option>' in languages
    assert '<option value="en-US">English (United States)</option>' in languages
    assert '<option value="de">Deutsch</option>' in languages
    assert ">en-US<" not in languages


def test_profile_language_choice_is_stored_as_tag(logged_in, user):
    logged_in.post(
        "/accounts/profile/", profile_data(locale="zh-Hans", zoneinfo="America/Argentina/Buenos_Aires")
    )
    user.refresh_from_db()
    assert (user.locale, user.zoneinfo) == ("zh-Hans", "America/Argentina/Buenos_Aires")
    content = logged_in.get("/accounts/profile/").content.decode()
    assert '<option value="zh-Hans" selected>' in content
    assert (
        '<option value="America/Argentina/Buenos_Aires" selected>Argentina / Buenos Aires</option>' in content
    )


def test_profile_keeps_a_stored_language_not_in_the_list(logged_in, user):
    user.locale = "en-JM"
    user.save()
    content = logged_in.get("/accounts/profile/").content.decode()
    assert '<option value="en-JM" selected>English (en-JM)</option>' in content


def seen_by(content: str, legend: str) -> str:
    group = re.split(rf"<legend[^>]*>{legend}</legend>", content)[1].split("</fieldset>")[0]
    return " | ".join(re.findall(r'class="small[^"]*seen-by">([^<]*)<', group))


def test_profile_says_which_apps_see_each_group(logged_in, user, rp, make_client):
    authorize(logged_in, rp, scope="openid email")
    authorize(logged_in, make_client(name="Calendar"), scope="openid profile email")
    content = logged_in.get("/accounts/profile/").content.decode()
    assert seen_by(content, "Name") == "Seen by: Calendar"
    assert seen_by(content, "Language and region") == "Seen by: Calendar"
    assert seen_by(content, "Address") == "No app can see this"
    # Contact mixes scopes, so each field says its own.
    assert seen_by(content, "Contact") == "Seen by: Calendar, Test app | No app can see this"


def test_profile_names_trusted_apps_that_received_a_field(logged_in, user, client, make_client, signing_keys):
    trusted = make_client(name="Intranet", skip_consent=True)
    exchange(client, trusted, authorize(logged_in, trusted, scope="openid phone"))
    content = logged_in.get("/accounts/profile/").content.decode()
    assert seen_by(content, "Contact") == "No app can see this | Seen by: Intranet"


SECTIONS = {
    "name": {
        "first_name": "Alicia",
        "middle_name": "",
        "last_name": "Liddell",
        "nickname": "",
        "preferred_username": "",
    },
    "address": {
        "address_street_address": "1 Broad Street",
        "address_locality": "Oxford",
        "address_region": "",
        "address_postal_code": "OX1 3AS",
        "address_country": "United Kingdom",
    },
}


def test_profile_page_is_sections_each_with_its_own_save(logged_in, user):
    content = logged_in.get("/accounts/profile/").content.decode()
    forms = re.findall(r'<form method="post"[^>]*class="card profile" id="section-([a-z]+)"', content)
    assert forms == ["name", "contact", "address", "language", "about"]
    for slug in forms:
        body = content.split(f'id="section-{slug}"')[1].split("</form>")[0]
        assert f'name="section" value="{slug}"' in body and 'type="submit" class="primary"' in body


def test_profile_section_saves_only_its_fields(logged_in, user):
    user.nickname, user.zoneinfo = "Al", "Europe/London"
    user.save()
    response = logged_in.post("/accounts/profile/", {"section": "address", **SECTIONS["address"]})
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/#section-address"
    user.refresh_from_db()
    assert (user.address_locality, user.address_postal_code) == ("Oxford", "OX1 3AS")
    # Not posted, so not touched: the other sections keep what was stored.
    assert (user.first_name, user.nickname, user.zoneinfo, user.phone_number) == (
        "Alice",
        "Al",
        "Europe/London",
        "+441632960000",
    )
    assert user.email == "alice@example.com" and user.email_verified is True


def test_profile_section_ignores_fields_of_other_sections(logged_in, user):
    logged_in.post("/accounts/profile/", {"section": "name", **SECTIONS["name"], "email": "x@example.com"})
    user.refresh_from_db()
    assert user.first_name == "Alicia" and user.email == "alice@example.com"


def test_profile_section_error_is_shown_in_that_section_and_saves_nothing(logged_in, user):
    response = logged_in.post(
        "/accounts/profile/", {"section": "contact", "email": user.email, "phone_number": "1"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    contact = content.split('id="section-contact"')[1].split("</form>")[0]
    assert "international format" in contact
    assert 'role="alert"' not in content.split('id="section-contact"')[0]
    assert 'value="Alice"' in content  # the Name section still shows what is stored
    user.refresh_from_db()
    assert user.phone_number == "+441632960000"


def test_account_home_names_passkeys_with_two_step_sign_in(logged_in):
    content = logged_in.get("/accounts/").content.decode()
    assert ">Two-step sign-in and passkeys</a>" in content
