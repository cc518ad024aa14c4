"""Which language a person's pages and e-mails are in, as they see it.

In order: ``ui_locales`` of the authorization or logout request (kept through sign-in, second
factor and consent), the account's ``locale``, the switcher's choice, ``Accept-Language``.
German is the catalog finished here; the page's ``lang`` and ``Content-Language`` name the
chosen language whether or not its catalog is complete yet.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import translation

from accounts.security_notices import Change, security_notice_send
from tests.accounts.conftest import STEP, totp_code
from tests.conftest import PASSWORD, pkce_pair, query_of

GERMAN = "Anmelden"  # "Sign in"


def lang_of(response) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert found, response.content[:300]
    return found.group(1)


def authorization_params(rp, **extra: str) -> dict[str, str]:
    _verifier, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def test_language_follows_accept_language(browser):
    page = browser.get("/accounts/login/", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
    assert lang_of(page) == "de" and page["Content-Language"] == "de"
    assert f">{GERMAN}</h1>" in page.content.decode()
    assert "Accept-Language" in page["Vary"]
    english = browser.get("/accounts/login/", headers={"accept-language": "en-GB"})
    assert lang_of(english) == "en" and ">Sign in</h1>" in english.content.decode()


def test_language_unknown_accept_language_falls_back_to_english(browser):
    page = browser.get("/accounts/login/", headers={"accept-language": "tlh, x-klingon;q=0.5"})
    assert lang_of(page) == "en"


def test_switcher_on_every_page_for_people_not_signed_in(browser):
    page = browser.get("/accounts/login/", headers={"accept-language": "en"}).content.decode()
    assert 'action="/i18n/setlang/"' in page and 'name="csrfmiddlewaretoken"' in page
    options = re.findall(r'<option value="([^"]+)"', page.split('id="language-select"')[1])
    assert options == ["en", "de", "es", "fr", "nl", "pt-br"]
    assert 'action="/i18n/setlang/"' in browser.get("/accounts/password/reset/").content.decode()


def test_error_pages_people_see_carry_the_switcher(db, browser):
    from django.test import Client

    page = Client().get("/no-such-page/", headers={"accept-language": "de"})
    assert page.status_code == 404 and lang_of(page) == "de"
    assert 'action="/i18n/setlang/"' in page.content.decode() and "csrftoken" in page.cookies
    # Chosen there, the language holds on the next page.
    switched = browser.get("/no-such-page/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', switched.content.decode()).group(1)
    browser.post("/i18n/setlang/", {"language": "fr", "next": "/no-such-page/", "csrfmiddlewaretoken": token})
    assert lang_of(browser.get("/accounts/login/")) == "fr"


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration/extra", "/o/no-such-endpoint/", "/readyz/extra"]
)
def test_error_answers_on_machine_endpoints_have_no_switcher_and_set_no_cookie(db, path):
    from django.test import Client

    # The switcher's form would set a CSRF cookie on an answer caches keep for every visitor.
    page = Client().get(path, headers={"accept-language": "de"})
    assert page.status_code == 404
    assert 'action="/i18n/setlang/"' not in page.content.decode() and "csrftoken" not in page.cookies
    assert "Set-Cookie" not in page


def test_switcher_choice_outranks_accept_language(browser):
    response = browser.post("/i18n/setlang/", {"language": "de", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    page = browser.get("/accounts/login/", headers={"accept-language": "fr"})
    assert lang_of(page) == "de" and f">{GERMAN}</h1>" in page.content.decode()


def test_switcher_refuses_a_language_not_shipped_and_answers_no_500(browser):
    browser.post("/i18n/setlang/", {"language": "tlh", "next": "/accounts/login/"})
    assert lang_of(browser.get("/accounts/login/", headers={"accept-language": "en"})) == "en"
    assert browser.get("/i18n/setlang/").status_code == 405


def test_switcher_needs_csrf(db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/i18n/setlang/", {"language": "de"}).status_code == 403


def test_signed_in_people_use_their_locale_not_the_switcher(logged_in, user):
    home = logged_in.get("/accounts/", headers={"accept-language": "de"})
    assert 'action="/i18n/setlang/"' not in home.content.decode()
    user.locale = "de-AT"
    user.save(update_fields=["locale"])
    page = logged_in.get("/accounts/", headers={"accept-language": "fr"})
    assert lang_of(page) == "de" and "<h1>Ihr Konto</h1>" in page.content.decode()


def test_profile_language_choice_changes_the_pages(logged_in, user):
    response = logged_in.post("/accounts/profile/", {"section": "language", "locale": "de", "zoneinfo": ""})
    assert response.status_code == 302
    page = logged_in.get("/accounts/profile/", headers={"accept-language": "en"})
    assert lang_of(page) == "de" and "<h1>Ihr Profil</h1>" in page.content.decode()


def test_ui_locales_outranks_the_account_locale(logged_in, user, rp):
    user.locale = "de"
    user.save(update_fields=["locale"])
    page = logged_in.get("/o/authorize/", authorization_params(rp, ui_locales="fr-CA en"))
    assert page.status_code == 200 and lang_of(page) == "fr"


def test_ui_locales_picks_the_first_shipped_tag(logged_in, rp):
    page = logged_in.get("/o/authorize/", authorization_params(rp, ui_locales="tlh x-unknown de-CH es"))
    assert lang_of(page) == "de"
    assert "möchte Ihr" in page.content.decode()


@pytest.mark.parametrize("value", ["", "!!!", "a" * 500, "de" + " x" * 500, "\u00e9t\u00e9"])
def test_ui_locales_without_a_shipped_language_is_ignored(logged_in, rp, value):
    page = logged_in.get("/o/authorize/", authorization_params(rp, ui_locales=value))
    assert page.status_code == 200 and lang_of(page) in {"en", "de"}


def test_ui_locales_kept_through_sign_in_second_factor_and_consent(browser, rp, totp_device):
    english = {"accept-language": "en"}
    response = browser.get("/o/authorize/", authorization_params(rp, ui_locales="de"), headers=english)
    assert response.status_code == 302
    login = browser.get(response["Location"], headers=english)
    assert lang_of(login) == "de" and f">{GERMAN}</h1>" in login.content.decode()
    next_url = query_of(response["Location"])["next"]
    step = browser.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": next_url}, headers=english
    )
    assert urlsplit(step["Location"]).path == STEP
    mfa = browser.get(step["Location"], headers=english)
    assert lang_of(mfa) == "de" and "Bestätigen Sie, dass Sie es sind" in mfa.content.decode()
    back = browser.post(
        STEP, {"method": "totp", "code": totp_code(totp_device.bin_key), "next": next_url}, headers=english
    )
    consent = browser.get(back["Location"], headers=english)
    assert lang_of(consent) == "de" and ">Erlauben</button>" in consent.content.decode()
    answer = browser.post(
        "/o/authorize/consent/", {"request_id": consent.context["request_id"], "allow": "1"}, headers=english
    )
    assert answer.status_code == 302 and query_of(answer["Location"])["code"]
    # The request is answered: the account page is in the browser's language again.
    assert lang_of(browser.get("/accounts/", headers=english)) == "en"


def test_new_authorization_request_without_ui_locales_forgets_the_old_one(logged_in, rp):
    assert lang_of(logged_in.get("/o/authorize/", authorization_params(rp, ui_locales="de"))) == "de"
    english = {"accept-language": "en"}
    assert lang_of(logged_in.get("/o/authorize/", authorization_params(rp), headers=english)) == "en"


def test_switcher_outranks_an_apps_ui_locales(browser, rp):
    response = browser.get("/o/authorize/", authorization_params(rp, ui_locales="de"))
    login_url = response["Location"]
    browser.post("/i18n/setlang/", {"language": "fr", "next": login_url})
    assert lang_of(browser.get(login_url)) == "fr"


def test_logout_ui_locales_shows_the_question_and_signed_out_page_in_that_language(logged_in):
    english = {"accept-language": "en"}
    page = logged_in.get("/o/logout/", {"ui_locales": "de"}, headers=english)
    assert lang_of(page) == "de" and "<h1>Abmelden?</h1>" in page.content.decode()
    assert 'name="ui_locales" value="de"' in page.content.decode()
    done = logged_in.post("/o/logout/", {"allow": "true", "ui_locales": "de"}, headers=english)
    assert done.status_code == 302
    signed_out = logged_in.get(done["Location"], headers=english)
    assert lang_of(signed_out) == "de" and "Sie sind abgemeldet" in signed_out.content.decode()


def test_discovery_lists_exactly_the_shipped_languages(client, settings, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["ui_locales_supported"] == ["en", "de", "es", "fr", "nl", "pt-BR"]
    assert len(document["ui_locales_supported"]) == len(settings.LANGUAGES)


def test_protocol_answers_stay_english_after_a_german_page(browser, rp):
    browser.get("/accounts/login/", headers={"accept-language": "de"})
    response = browser.post("/o/token/", {"grant_type": "authorization_code", "code": "x"})
    assert response.status_code in (400, 401)
    assert "Content-Language" not in response
    assert translation.get_language() == "en"


def test_email_goes_out_in_the_recipients_language(user, django_capture_on_commit_callbacks):
    user.locale = "de-DE"
    user.save(update_fields=["locale"])
    # Sent by someone else's request (staff's, in English), it is in the recipient's language.
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        security_notice_send(user=user, change=Change.PASSWORD_CHANGED)
    (message,) = mail.outbox
    assert "Ihr Passwort wurde geändert" in message.subject + message.body
    assert "Wenn Sie das waren, ist nichts zu tun." in message.body


def test_password_reset_mail_in_the_accounts_language_or_the_pages(browser, user):
    browser.post("/accounts/password/reset/", {"email": user.email}, headers={"accept-language": "de"})
    (german,) = mail.outbox
    assert german.subject.startswith("Ihr Passwort für")
    user.locale = "en-GB"
    user.save(update_fields=["locale"])
    browser.post("/accounts/password/reset/", {"email": user.email}, headers={"accept-language": "de"})
    assert mail.outbox[1].subject.startswith("Reset your")
