"""Signing in with a directory password against a real slapd, and the scheduled directory sync."""

from datetime import timedelta

from django.utils import timezone

from accounts.mfa.models import TOTPAuthenticator
from accounts.models import User
from audit.actions import Action
from audit.models import AuditEvent
from directory.models import DirectoryAccount
from directory.services import directory_accounts_sync
from oidc_provider.housekeeping import housekeeping_run
from tests.conftest import PASSWORD, BrowserClient
from tests.directory.conftest import ldap_config
from tests.slapd import GROUPS, PEOPLE, person

UNREACHABLE = "directory could not be reached"
NOT_CORRECT = "The username or password is not correct."


def sign_in(browser, username, password):
    return browser.post("/accounts/login/", {"username": username, "password": password})


def test_directory_sign_in_makes_the_account_with_attributes_and_groups(directory, browser):
    response = sign_in(browser, "ada", "ada-directory-pw")
    assert response.status_code == 302, response.content[:300]
    assert browser.get("/accounts/").status_code == 200
    ada = User.objects.get(username="ada")
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Lovelace", "ada@example.org")
    assert not ada.email_verified  # PORCHLIGHT_LDAP_TRUST_EMAIL is off
    assert not ada.has_usable_password()
    assert sorted(ada.groups.values_list("name", flat=True)) == ["Admins", "Engineers"]
    assert ada.directory_account.dn == f"uid=ada,{PEOPLE}"
    assert AuditEvent.objects.filter(action=Action.DIRECTORY_ACCOUNT_CREATE).count() == 1
    assert AuditEvent.objects.filter(action=Action.LOGIN_SUCCESS, target="ada").exists()


def test_directory_sign_in_syncs_attributes_and_groups_each_time(directory, settings):
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    directory.replace(f"uid=ada,{PEOPLE}", "sn", "King")
    directory.replace(f"uid=ada,{PEOPLE}", "mail", "ada.king@example.org")
    directory.replace(f"cn=admins,{GROUPS}", "member", f"uid=grace,{PEOPLE}")
    settings.PORCHLIGHT_LDAP = {**settings.PORCHLIGHT_LDAP, "TRUST_EMAIL": True}
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    ada = User.objects.get(username="ada")
    assert (ada.last_name, ada.email, ada.email_verified) == ("King", "ada.king@example.org", True)
    assert list(ada.groups.values_list("name", flat=True)) == ["Engineers"]
    assert DirectoryAccount.objects.count() == 1


def test_directory_sign_in_keeps_groups_staff_gave(directory):
    assert sign_in(BrowserClient(), "grace", "grace-directory-pw").status_code == 302
    grace = User.objects.get(username="grace")
    grace.groups.create(name="Support")
    assert sign_in(BrowserClient(), "grace", "grace-directory-pw").status_code == 302
    assert sorted(grace.groups.values_list("name", flat=True)) == ["Engineers", "Support"]


def test_directory_wrong_password_is_refused_and_makes_no_account(directory, browser):
    response = sign_in(browser, "ada", "not-her-password")
    assert response.status_code == 200
    assert NOT_CORRECT in response.content.decode()
    assert not User.objects.filter(username="ada").exists()
    assert sign_in(browser, "nobody", "whatever-password").status_code == 200
    assert User.objects.count() == 0


def test_directory_required_group_refuses_others(directory, settings):
    settings.PORCHLIGHT_LDAP = {**settings.PORCHLIGHT_LDAP, "REQUIRE_GROUP": f"cn=engineers,{GROUPS}"}
    response = sign_in(BrowserClient(), "linus", "linus-directory-pw")
    assert NOT_CORRECT in response.content.decode()
    assert not User.objects.filter(username="linus").exists()


def test_directory_cannot_take_over_a_local_account(directory, django_user_model):
    # A local account named like a directory entry stays local: the directory password opens nothing.
    django_user_model.objects.create_user(username="grace", password=PASSWORD)
    assert NOT_CORRECT in sign_in(BrowserClient(), "grace", "grace-directory-pw").content.decode()
    assert sign_in(BrowserClient(), "grace", PASSWORD).status_code == 302
    assert not DirectoryAccount.objects.exists()


def test_directory_account_cannot_change_password_here(directory, browser):
    assert sign_in(browser, "ada", "ada-directory-pw").status_code == 302
    page = browser.get("/accounts/password/", follow=True)
    assert page.status_code == 200
    assert "It cannot be changed here." in page.content.decode()
    assert "old_password" not in page.content.decode()


def test_directory_account_with_second_factor_is_asked_for_it(directory):
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    TOTPAuthenticator.objects.create(user=User.objects.get(username="ada"), name="Phone", confirmed=True)
    browser = BrowserClient()
    response = sign_in(browser, "ada", "ada-directory-pw")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/")
    # Not signed in until the second factor is given.
    assert browser.get("/accounts/").status_code == 302


def test_directory_down_fails_directory_accounts_only(directory, user):
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    directory.stop()
    # The local account signs in as ever.
    assert sign_in(BrowserClient(), "alice", PASSWORD).status_code == 302
    # A directory account is told plainly, neither signed in nor told its password is wrong.
    refused = sign_in(BrowserClient(), "ada", "ada-directory-pw")
    assert refused.status_code == 200
    assert UNREACHABLE in refused.content.decode()
    assert NOT_CORRECT not in refused.content.decode()
    # Someone never seen before gets the same message, and no account is half-made.
    assert UNREACHABLE in sign_in(BrowserClient(), "grace", "grace-directory-pw").content.decode()
    assert not User.objects.filter(username="grace").exists()
    assert AuditEvent.objects.filter(action=Action.DIRECTORY_UNREACHABLE).count() == 2
    # An outage locks nobody out: the attempts were not counted as failures.
    for _ in range(8):
        assert UNREACHABLE in sign_in(BrowserClient(), "ada", "ada-directory-pw").content.decode()


def test_directory_sync_deactivates_removed_and_disabled_accounts(directory, settings):
    ada_browser, grace_browser = BrowserClient(), BrowserClient()
    assert sign_in(ada_browser, "ada", "ada-directory-pw").status_code == 302
    assert sign_in(grace_browser, "grace", "grace-directory-pw").status_code == 302
    assert sign_in(BrowserClient(), "linus", "linus-directory-pw").status_code == 302
    directory.delete(f"uid=ada,{PEOPLE}")
    # Active Directory's ACCOUNTDISABLE bit (512 + 2).
    directory.replace(f"uid=grace,{PEOPLE}", "userAccountControl", "514")
    directory.replace(f"uid=linus,{PEOPLE}", "givenName", "Linnea")
    # Read at sign-in just now: not due yet.
    assert directory_accounts_sync() == {"directory_synced": 0, "directory_deactivated": 0}
    DirectoryAccount.objects.update(synced=timezone.now() - timedelta(hours=2))

    counts = housekeeping_run()

    assert counts["directory_synced"] == 3
    assert counts["directory_deactivated"] == 2
    assert not User.objects.get(username="ada").is_active
    assert not User.objects.get(username="grace").is_active
    linus = User.objects.get(username="linus")
    assert linus.is_active and linus.first_name == "Linnea"
    # Deactivated as staff deactivate: their sign-ins have ended.
    assert ada_browser.get("/accounts/").status_code == 302
    assert grace_browser.get("/accounts/").status_code == 302
    reasons = {
        event.target: event.detail["reason"]
        for event in AuditEvent.objects.filter(action=Action.ACCOUNT_DEACTIVATE)
    }
    assert reasons == {"ada": "removed from the directory", "grace": "disabled in the directory"}
    # A disabled account does not sign in either.
    assert NOT_CORRECT in sign_in(BrowserClient(), "grace", "grace-directory-pw").content.decode()


def test_directory_name_given_to_a_new_entry_does_not_reach_the_old_account(directory):
    # Ada leaves; the directory later gives her username to someone new (a new entry, a new
    # entryUUID). The newcomer must not sign in to Ada's account, with her groups and her apps.
    ada_browser = BrowserClient()
    assert sign_in(ada_browser, "ada", "ada-directory-pw").status_code == 302
    assert DirectoryAccount.objects.get(user__username="ada").entry_id
    directory.delete(f"uid=ada,{PEOPLE}")
    directory.add(person("ada", given="Adam", surname="Newman", password="adam-directory-pw"))

    refused = sign_in(BrowserClient(), "ada", "adam-directory-pw")

    assert NOT_CORRECT in refused.content.decode()
    ada = User.objects.get(username="ada")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")  # nothing of the new entry copied
    # The sync deactivates the old account, ending Ada's sessions, and says why.
    DirectoryAccount.objects.update(synced=timezone.now() - timedelta(hours=2))
    assert directory_accounts_sync()["directory_deactivated"] == 1
    assert not User.objects.get(username="ada").is_active
    assert ada_browser.get("/accounts/").status_code == 302
    event = AuditEvent.objects.get(action=Action.ACCOUNT_DEACTIVATE, target="ada")
    assert event.detail["reason"] == "replaced by another entry in the directory"
    # Staff turning the account back on does not hand it to the newcomer either.
    User.objects.filter(username="ada").update(is_active=True)
    assert NOT_CORRECT in sign_in(BrowserClient(), "ada", "adam-directory-pw").content.decode()


def test_directory_sync_deactivates_nobody_while_the_directory_is_down(directory):
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    directory.stop()
    counts = directory_accounts_sync(everyone=True)
    assert counts["directory_unreachable"] == 1
    assert counts["directory_deactivated"] == 0
    assert User.objects.get(username="ada").is_active
    assert AuditEvent.objects.filter(
        action=Action.DIRECTORY_UNREACHABLE, actor_label="directory sync"
    ).exists()


def test_directory_sync_with_dn_template_finds_removed_entries(directory, settings):
    settings.PORCHLIGHT_LDAP = ldap_config(
        directory.uri, USER_SEARCH_BASE="", USER_DN_TEMPLATE=f"uid=%(user)s,{PEOPLE}"
    )
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    assert sign_in(BrowserClient(), "grace", "grace-directory-pw").status_code == 302
    directory.delete(f"uid=ada,{PEOPLE}")
    counts = directory_accounts_sync(everyone=True)
    assert counts == {"directory_synced": 2, "directory_deactivated": 1}
    assert not User.objects.get(username="ada").is_active
    assert User.objects.get(username="grace").is_active


def test_directory_account_shows_on_its_admin_user_page(directory, staff):
    assert sign_in(BrowserClient(), "ada", "ada-directory-pw").status_code == 302
    ada = User.objects.get(username="ada")
    page = staff.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()
    assert f"uid=ada,{PEOPLE}" in page
    assert "Signs in with the directory password" in page
    local = User.objects.get(username="root")
    assert (
        "Signs in with the directory password"
        not in staff.get(f"/admin/accounts/user/{local.pk}/change/").content.decode()
    )
