"""People create their own account when sign-up is open: the form, the mailed link, limits and review."""

import hashlib
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.core import checks
from django.test import Client as BrowserClient

from accounts.models import SignUp, User
from audit.models import AuditEvent
from oidc_provider.housekeeping import housekeeping_prune
from tests.conftest import PASSWORD, authorize, query_of, sign_in
from tests.docs.pages import ROOT
from tests.environment import clean_environment

NEW_PASSWORD = "a long walk to the lighthouse"
SIGNUP = "/accounts/signup/"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/accounts/signup/verify/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def mailed(django_capture_on_commit_callbacks):
    """Send the mails queued for after commit: a test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def open_signup(settings, db):
    """Sign-up open, with whatever else a test adds to ``PORCHLIGHT``; returns a setter."""

    def configure(**values):
        settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "open", **values}

    configure()
    return configure


def sign_up(browser, mailed, email="robin@example.com", password=NEW_PASSWORD, **fields):
    data = {"email": email, "password1": password, "password2": password, **fields}
    with mailed():
        return browser.post(SIGNUP, data)


def link_in(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def confirm(link: str, password: str = NEW_PASSWORD, browser=None):
    browser = browser or BrowserClient()
    page = browser.get(link)
    if page.status_code != 200:
        return browser, page
    assert b"Confirm and sign in" in page.content
    return browser, browser.post(link, {"password": password})


def test_signup_off_by_default_has_no_page_and_no_link(browser, db):
    assert browser.get(SIGNUP).status_code == 404
    assert b"Create an account" not in browser.get("/accounts/login/").content


def test_signup_invite_mode_has_no_public_page(browser, settings, db):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "invite"}
    assert browser.get(SIGNUP).status_code == 404


def test_signup_open_login_page_links_to_it_keeping_next(browser, open_signup):
    page = browser.get("/accounts/login/?next=/o/authorize/%3Fclient_id%3Dx").content.decode()
    assert 'href="/accounts/signup/?next=%2Fo%2Fauthorize%2F%3Fclient_id%3Dx"' in page


def test_signup_link_confirms_account_and_signs_in(browser, open_signup, mailed, mailoutbox):
    response = sign_up(browser, mailed)
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    assert b"We sent a message to robin@example.com" in browser.get(response["Location"]).content
    [message] = mailoutbox
    assert message.to == ["robin@example.com"]
    user = User.objects.get(email="robin@example.com")
    assert not user.is_active and not user.email_verified

    # Before the link: the account cannot sign in anywhere.
    refused = BrowserClient().post(
        "/accounts/login/", {"username": "robin@example.com", "password": NEW_PASSWORD}
    )
    assert refused.status_code == 200 and b"not correct" in refused.content

    link = link_in(message)
    # Only the password chosen confirms it: whoever owns the address but did not sign up cannot.
    other, wrong = confirm(link, password="not the one I chose at all")
    assert wrong.status_code == 200 and b"not the password chosen" in wrong.content
    person, done = confirm(link)
    assert done.status_code == 302 and done["Location"] == "/accounts/"
    assert person.get("/accounts/").status_code == 200
    user.refresh_from_db()
    assert user.is_active and user.email_verified
    assert SignUp.objects.get(user=user).status == SignUp.Status.ACTIVE

    # The link worked once.
    _, again = confirm(link)
    assert again.status_code == 400 and b"no longer works" in again.content
    actions = list(AuditEvent.objects.filter(target_id=str(user.pk)).values_list("action", flat=True))
    assert {"signup.create", "signup.verified", "login.success"} <= set(actions)


def test_signup_link_expires(browser, open_signup, mailed, mailoutbox, clock, settings):
    sign_up(browser, mailed)
    clock.advance(settings.PORCHLIGHT["EMAIL_VERIFICATION_LIFETIME"] + 1)
    _, page = confirm(link_in(mailoutbox[0]))
    assert page.status_code == 400
    assert not User.objects.get(email="robin@example.com").is_active


def test_signup_expired_unconfirmed_address_can_sign_up_again(
    browser, open_signup, mailed, mailoutbox, clock
):
    sign_up(browser, mailed)
    clock.advance(3 * 86400)
    sign_up(browser, mailed, password="another long passphrase here")
    assert User.objects.filter(email="robin@example.com").count() == 1
    _, done = confirm(link_in(mailoutbox[-1]), password="another long passphrase here")
    assert done.status_code == 302


def test_signup_existing_address_gets_same_page_and_owner_is_mailed(
    browser, open_signup, mailed, mailoutbox, user
):
    response = sign_up(browser, mailed, email="Alice@Example.com")
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert "already an account" in message.body
    assert not LINK.search(message.body)
    assert AuditEvent.objects.filter(action="signup.existing", target_id=str(user.pk)).exists()
    # The existing account is untouched: its password still works.
    sign_in(BrowserClient(), "alice", PASSWORD)


def test_signup_password_checked_by_validators(browser, open_signup, mailed, mailoutbox):
    response = sign_up(browser, mailed, password="short")
    assert response.status_code == 200
    assert b"too short" in response.content
    response = sign_up(browser, mailed, password="robin@example.com")
    assert response.status_code == 200
    assert not User.objects.filter(email="robin@example.com").exists()
    assert mailoutbox == []


def test_signup_refuses_breached_password_from_local_list(browser, open_signup, mailed, settings, tmp_path):
    breached = "correct horse battery staple again"
    digests = sorted(
        hashlib.sha1(word.encode()).hexdigest().upper() for word in [breached, "password1", "letmein99"]
    )
    listing = tmp_path / "pwned.txt"
    listing.write_text("".join(f"{digest}:42\r\n" for digest in digests))
    settings.AUTH_PASSWORD_VALIDATORS = [
        *settings.AUTH_PASSWORD_VALIDATORS,
        {"NAME": "accounts.passwords.BreachedPasswordValidator", "OPTIONS": {"path": str(listing)}},
    ]
    response = sign_up(browser, mailed, password=breached)
    assert response.status_code == 200 and b"appeared in a data breach" in response.content
    assert sign_up(browser, mailed, password=NEW_PASSWORD).status_code == 302


def test_signup_breached_list_checked_at_start_up(settings, tmp_path):
    unsorted = tmp_path / "unsorted.txt"
    unsorted.write_text("F" * 40 + "\n" + "0" * 40 + "\n")
    for path, problem in [
        (tmp_path / "missing.txt", "is not a file"),
        (unsorted, "not sorted"),
        (tmp_path, "is not a file"),
    ]:
        settings.BREACHED_PASSWORDS_FILE = str(path)
        errors = checks.run_checks()
        assert any(error.id == "accounts.E004" and problem in error.msg for error in errors), path


def test_signup_fields_staff_chose_are_required(browser, open_signup, mailed):
    open_signup(SIGNUP_FIELDS=["first_name", "last_name"])
    page = browser.get(SIGNUP).content.decode()
    assert 'name="first_name"' in page and 'name="last_name"' in page and 'name="nickname"' not in page
    response = sign_up(browser, mailed, first_name="Robin")
    assert response.status_code == 200 and b"This field is required" in response.content
    assert sign_up(browser, mailed, first_name="Robin", last_name="Ames").status_code == 302
    user = User.objects.get(email="robin@example.com")
    assert (user.first_name, user.last_name) == ("Robin", "Ames")


def test_signup_fields_naming_no_field_stop_start_up(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP_FIELDS": ["first_name", "is_superuser"]}
    errors = [error for error in checks.run_checks() if error.id == "accounts.E001"]
    assert errors and "is_superuser" in errors[0].msg


def test_signup_allowed_domains(browser, open_signup, mailed):
    open_signup(SIGNUP_EMAIL_DOMAINS=["example.org"])
    response = sign_up(browser, mailed, email="robin@example.com")
    assert response.status_code == 200 and b"Only addresses at example.org" in response.content
    assert sign_up(browser, mailed, email="robin@sub.example.org").status_code == 200
    assert sign_up(browser, mailed, email="robin@EXAMPLE.org").status_code == 302


def test_signup_terms_must_be_accepted_and_version_is_recorded(browser, open_signup, mailed):
    open_signup(SIGNUP_TERMS_URL="https://example.com/terms", SIGNUP_TERMS_VERSION="2026-01")
    page = browser.get(SIGNUP).content.decode()
    assert 'href="https://example.com/terms"' in page
    response = sign_up(browser, mailed)
    assert response.status_code == 200 and b"accept the terms" in response.content
    assert sign_up(browser, mailed, terms="on").status_code == 302
    signup = SignUp.objects.get(user__email="robin@example.com")
    assert signup.terms_version == "2026-01" and signup.terms_accepted is not None


def test_signup_rate_limited_per_address(browser, open_signup, mailed, mailoutbox, user):
    open_signup(SIGNUP_MAX_PER_ADDRESS=2)
    # Existing or not, the address counts the same.
    for _attempt in range(2):
        assert sign_up(BrowserClient(), mailed, email="alice@example.com").status_code == 302
    refused = sign_up(BrowserClient(), mailed, email="alice@example.com")
    assert refused.status_code == 200 and b"Too many sign-ups" in refused.content
    assert len(mailoutbox) == 2
    assert AuditEvent.objects.filter(action="signup.limited").exists()


def test_signup_rate_limited_per_network(open_signup, mailed, mailoutbox):
    open_signup(SIGNUP_MAX_PER_IP=3)
    for index in range(3):
        assert sign_up(BrowserClient(), mailed, email=f"person{index}@example.com").status_code == 302
    refused = sign_up(BrowserClient(), mailed, email="person9@example.com")
    assert refused.status_code == 200 and b"Too many sign-ups" in refused.content
    assert not User.objects.filter(email="person9@example.com").exists()


def test_signup_review_holds_account_until_staff_approve(browser, open_signup, mailed, mailoutbox, staff):
    open_signup(SIGNUP_REVIEW=True)
    sign_up(browser, mailed)
    _, page = confirm(link_in(mailoutbox[0]))
    assert page.status_code == 200 and b"waiting to be approved" in page.content
    refused = BrowserClient().post(
        "/accounts/login/", {"username": "robin@example.com", "password": NEW_PASSWORD}
    )
    assert refused.status_code == 200

    signup = SignUp.objects.get(user__email="robin@example.com")
    assert signup.status == SignUp.Status.REVIEW
    listing = staff.get("/admin/accounts/signup/?status=review")
    assert b"robin@example.com" in listing.content
    with mailed():
        staff.post("/admin/accounts/signup/", {"action": "approve", "_selected_action": [signup.pk]})
    assert mailoutbox[-1].to == ["robin@example.com"] and "approved" in mailoutbox[-1].body
    sign_in(BrowserClient(), "robin@example.com", NEW_PASSWORD)
    assert AuditEvent.objects.get(action="signup.approve").actor.username == "root"


def test_signup_reject_deletes_the_account(browser, open_signup, mailed, mailoutbox, staff):
    open_signup(SIGNUP_REVIEW=True)
    sign_up(browser, mailed)
    confirm(link_in(mailoutbox[0]))
    signup = SignUp.objects.get(user__email="robin@example.com")
    staff.post("/admin/accounts/signup/", {"action": "reject", "_selected_action": [signup.pk]})
    assert not User.objects.filter(email="robin@example.com").exists()
    event = AuditEvent.objects.get(action="signup.reject")
    assert event.detail == {"email": "robin@example.com"}


# --- prompt=create (OpenID Connect Prompt Create 1.0) ---------------------------------------------


def test_prompt_create_when_signup_off_is_a_400_invalid_request(browser, rp, signing_keys):
    response = browser.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid",
            "prompt": "create",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 400
    assert b"invalid_request" in response.content and b"create" in response.content


def test_discovery_lists_create_exactly_when_signup_open(browser, settings, signing_keys):
    assert "create" not in browser.get("/.well-known/openid-configuration").json()["prompt_values_supported"]
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "open"}
    values = browser.get("/.well-known/openid-configuration").json()["prompt_values_supported"]
    assert values == ["none", "login", "consent", "select_account", "create"]


def test_prompt_create_opens_signup_then_returns_to_authorization(open_signup, mailed, mailoutbox, rp):
    person = BrowserClient()
    first = person.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid email",
            "state": "s1",
            "prompt": "create consent",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert first.status_code == 302 and urlsplit(first["Location"]).path == SIGNUP
    next_url = query_of(first["Location"])["next"]
    back = query_of(next_url)
    assert back["prompt"] == "create consent" and back["client_id"] == rp.client_id
    signup_page = person.get(first["Location"]).content.decode()
    assert 'name="next"' in signup_page

    sign_up(person, mailed, next=next_url)
    _, done = confirm(link_in(mailoutbox[0]), browser=person)
    assert done.status_code == 302 and done["Location"] == next_url
    consent = person.get(next_url)
    assert consent.status_code == 200 and b"request_id" in consent.content
    answer = person.post("/o/authorize/consent/", {"request_id": consent.context["request_id"], "allow": "1"})
    callback = query_of(answer["Location"])
    assert callback["state"] == "s1" and callback["code"]


def test_prompt_create_with_none_is_refused(logged_in, open_signup, rp):
    result = authorize(logged_in, rp, prompt="none create")
    assert query_of(result.response["Location"])["error"] == "invalid_request"


def test_signup_next_must_stay_on_this_site(open_signup, mailed, mailoutbox):
    person = BrowserClient()
    sign_up(person, mailed, next="https://evil.example/")
    _, done = confirm(link_in(mailoutbox[0]), browser=person)
    assert done["Location"] == "/accounts/"


def test_signup_invite_mode_invitation_asks_the_signup_details_and_terms(settings, staff, mailed, mailoutbox):
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "SIGNUP": "invite",
        "SIGNUP_FIELDS": ["nickname"],
        "SIGNUP_TERMS_URL": "https://example.com/terms",
        "SIGNUP_TERMS_VERSION": "v3",
    }
    with mailed():
        staff.post("/admin/accounts/invitation/add/", {"email": "robin@example.com", "username": ""})
    link = re.search(
        r"http://127\.0\.0\.1:8000(/accounts/invitation/\?token=\S+)", mailoutbox[-1].body
    ).group(1)
    person = BrowserClient()
    person.get(link)
    page = person.get("/accounts/invitation/").content.decode()
    assert 'name="nickname"' in page and 'href="https://example.com/terms"' in page
    passwords = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    refused = person.post("/accounts/invitation/", {**passwords, "nickname": "Rob"})
    assert refused.status_code == 200 and b"accept the terms" in refused.content
    done = person.post("/accounts/invitation/", {**passwords, "nickname": "Rob", "terms": "on"})
    assert done.status_code == 302
    user = User.objects.get(email="robin@example.com")
    assert user.nickname == "Rob" and user.check_password(NEW_PASSWORD)
    assert SignUp.objects.get(user=user).terms_version == "v3"


def test_signup_off_invitation_asks_only_the_password(settings, staff, mailed, mailoutbox):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP_FIELDS": ["nickname"]}
    with mailed():
        staff.post("/admin/accounts/invitation/add/", {"email": "robin@example.com", "username": ""})
    link = re.search(
        r"http://127\.0\.0\.1:8000(/accounts/invitation/\?token=\S+)", mailoutbox[-1].body
    ).group(1)
    person = BrowserClient()
    person.get(link)
    assert b'name="nickname"' not in person.get("/accounts/invitation/").content


def test_signup_odd_input_never_fails(open_signup, mailed):
    person = BrowserClient()
    for next_url in ["/o/authorize/?x=\x00", "//evil.example/", "/" + "a" * 9000, "\u2028/"]:
        response = sign_up(person, mailed, email=f"p{len(next_url)}@example.com", next=next_url)
        assert response.status_code == 302
        assert SignUp.objects.get(user__email=f"p{len(next_url)}@example.com").next_url == ""
    for path in [
        "verify/%00/x/",
        "verify/" + "A" * 200 + "/1-2/",
        "verify/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk/x-y/",
    ]:
        assert person.get(SIGNUP + path).status_code in (400, 404)
        assert person.post(SIGNUP + path, {"password": "x"}).status_code in (400, 404)
    weird = {"email": "a@b", "password1": "\x00", "password2": "\x00", "next": "\x00"}
    assert person.post(SIGNUP, weird).status_code == 200


def test_signup_unconfirmed_accounts_deleted_by_housekeeping_after_link_expires(
    browser, open_signup, mailed, clock, user
):
    sign_up(browser, mailed)
    assert housekeeping_prune()["signups_expired"] == 0
    clock.advance(3 * 86400)
    assert housekeeping_prune()["signups_expired"] == 1
    assert not User.objects.filter(email="robin@example.com").exists()
    assert User.objects.filter(username="alice").exists()


def test_signup_user_page_shows_it_and_approves_or_refuses(
    browser, open_signup, mailed, mailoutbox, staff, user
):
    open_signup(SIGNUP_REVIEW=True, SIGNUP_TERMS_URL="https://example.com/terms")
    sign_up(browser, mailed, terms="on")
    confirm(link_in(mailoutbox[0]))
    robin = User.objects.get(email="robin@example.com")
    page = staff.get(f"/admin/accounts/user/{robin.pk}/change/").content.decode()
    assert "waiting for staff review" in page and "Accepted the terms https://example.com/terms" in page
    done = staff.post(f"/admin/accounts/user/{robin.pk}/act/signup_approve/", follow=True)
    assert b"can sign in" in done.content
    robin.refresh_from_db()
    assert robin.is_active
    # An account staff made has no sign-up to approve: said so, not a failure.
    refused = staff.post(f"/admin/accounts/user/{user.pk}/act/signup_approve/", follow=True)
    assert refused.status_code == 200 and b"did not sign up" in refused.content


def test_signup_serve_refuses_fields_that_name_no_field(tmp_path):
    env = clean_environment(
        tmp_path,
        PORCHLIGHT_SIGNUP="open",
        PORCHLIGHT_SIGNUP_FIELDS="first_name,is_staff",
        PORCHLIGHT_BIND="127.0.0.1:1",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "PORCHLIGHT_SIGNUP_FIELDS names is_staff" in done.stderr


def test_signup_twice_before_confirming_says_a_signup_is_waiting(browser, open_signup, mailed, mailoutbox):
    sign_up(browser, mailed)
    sign_up(BrowserClient(), mailed, password="another long passphrase here")
    first, second = mailoutbox
    assert LINK.search(first.body) and not LINK.search(second.body)
    assert "already waiting to be confirmed" in second.body and "first message" in second.body
    assert User.objects.filter(email="robin@example.com").count() == 1
    _, done = confirm(link_in(first))
    assert done.status_code == 302
