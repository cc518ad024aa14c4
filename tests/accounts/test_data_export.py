"""Download my data (GDPR Art. 15, 20): one JSON document with every category and no secret,
prepared by the task worker, behind a fresh sign-in, downloadable once and briefly; staff and
``manage.py exportuser`` get the same document."""

import json
import re
import threading
from base64 import b32encode
from datetime import timedelta
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.export.services import data_export_prepare
from accounts.mfa.models import normalize_code
from accounts.models import DataExport
from audit.models import AuditEvent
from oidc_provider.housekeeping import housekeeping_prune
from oidc_provider.models import AccessToken, RefreshToken
from tests.conftest import PASSWORD, authorize, concurrent_database, exchange

USED = "This download link has been used"


def prepare(browser) -> DataExport:
    """Ask for a copy on the page and run its task, as the worker would."""
    assert browser.post("/accounts/data/").status_code == 302
    export = DataExport.objects.get(status=DataExport.Status.PENDING)
    assert data_export_prepare.call(export.pk) == "ready"
    export.refresh_from_db()
    return export


def download(browser):
    return browser.post("/accounts/data/download/")


@pytest.fixture
def alice_with_everything(mfa_logged_in, client, rp, user, request) -> dict:
    """alice signed in with both factors, with an app allowed and its tokens, and every kind of factor."""
    tokens = exchange(client, rp, authorize(mfa_logged_in, rp)).json()
    totp = request.getfixturevalue("totp_device")
    passkey = request.getfixturevalue("passkey")
    codes = request.getfixturevalue("recovery_codes")
    return {"browser": mfa_logged_in, "tokens": tokens, "totp": totp, "passkey": passkey, "codes": codes}


def test_data_export_document_holds_every_category(alice_with_everything, user, rp):
    browser = alice_with_everything["browser"]
    prepare(browser)
    response = download(browser)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert re.fullmatch(
        r'attachment; filename="porchlight-data-alice-\d{4}-\d{2}-\d{2}\.json"',
        response["Content-Disposition"],
    )
    assert "no-store" in response["Cache-Control"]
    document = json.loads(response.content)

    assert document["format"] == "porchlight-data-export" and document["version"] == 1
    assert document["issuer"] == "http://127.0.0.1:8000" and document["subject"] == user.subject
    assert document["generated_at"]
    account = document["account"]
    assert account["username"] == "alice" and account["subject"] == user.subject
    assert account["date_joined"] and account["last_login"] and account["groups"] == []
    profile = document["profile"]
    assert profile["given_name"] == "Alice" and profile["family_name"] == "Liddell"
    assert profile["email"] == "alice@example.com" and profile["email_verified"] is True
    assert profile["phone_number"] == "+441632960000"
    assert profile["address"]["locality"] == "Oxford" and profile["address"]["country"] == "GB"
    assert {"nickname", "birthdate", "zoneinfo", "locale", "website", "picture"} <= set(profile)
    devices = {device["kind"]: device for device in document["mfa_devices"]}
    assert devices["authenticator app"]["name"] == "Phone" and devices["authenticator app"]["created_at"]
    assert devices["passkey or security key"]["name"] == "Passkey"
    assert devices["recovery codes"]["codes_left"] == len(alice_with_everything["codes"])
    (session,) = document["sessions"]
    assert (
        session["signed_in"] and session["authentication_methods"] == ["pwd", "otp", "mfa"] and session["ip"]
    )
    (consent,) = document["consents"]
    assert consent["app"] == "Test app" and consent["client_id"] == rp.client_id
    assert consent["scopes"] == ["openid", "profile", "email", "offline_access"]
    assert consent["first_granted"]
    (app,) = document["connected_apps"]
    assert app["app"] == "Test app" and app["allowed"] and app["offline_access"] and app["first_signed_in"]
    tokens = document["tokens"]
    assert [token["app"] for token in tokens["access_tokens"]] == ["Test app"]
    assert tokens["access_tokens"][0]["scope"] == "openid profile email offline_access"
    assert tokens["access_tokens"][0]["expires"]
    assert tokens["refresh_tokens"][0]["offline_access"] is True
    assert tokens["id_tokens"][0]["client_id"] == rp.client_id
    actions = [event["action"] for event in document["audit_events"]]
    assert {"login.success", "consent.grant", "data_export.request"} <= set(actions)


def test_data_export_document_holds_no_secret(alice_with_everything, user):
    browser, totp, passkey = (alice_with_everything[name] for name in ("browser", "totp", "passkey"))
    export = prepare(browser)
    payload = export.payload_encrypted
    text = download(browser).content.decode()
    lowered = text.lower()

    for code in alice_with_everything["codes"]:
        assert code.lower() not in lowered and normalize_code(code) not in lowered
    seed = totp.bin_key
    assert b32encode(seed).decode().rstrip("=").lower() not in lowered
    assert seed.hex() not in lowered
    assert totp.key_encrypted not in text
    assert passkey.credential_id.hex() not in lowered and bytes(passkey.public_key).decode() not in text
    user.refresh_from_db()
    assert user.password not in text and user.password.split("$")[-1] not in text
    assert PASSWORD not in text
    tokens = alice_with_everything["tokens"]
    for value in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert value not in text
    stored = [
        *AccessToken.objects.values_list("token", "token_checksum"),
        *RefreshToken.objects.values_list("token"),
    ]
    for value in (value for row in stored for value in row if value):
        assert value not in text
    assert payload and payload not in text
    # The stored copy is gone once taken.
    export.refresh_from_db()
    assert export.status == DataExport.Status.DOWNLOADED and export.payload_encrypted == ""


def test_data_export_download_works_once(logged_in):
    prepare(logged_in)
    assert download(logged_in).status_code == 200
    again = download(logged_in)
    assert again.status_code == 410
    assert USED in again.content.decode() and "Prepare a new copy" in again.content.decode()
    page = logged_in.get("/accounts/data/").content.decode()
    assert "You downloaded your last copy" in page and "Prepare my data" in page
    actions = list(AuditEvent.objects.filter(target="alice").values_list("action", flat=True))
    assert actions.count("data_export.download") == 1 and "data_export.request" in actions


def test_data_export_page_says_it_is_being_prepared_and_reloads(logged_in):
    home = logged_in.get("/accounts/").content.decode()
    assert 'href="/accounts/data/"' in home and "Your data" in home
    page = logged_in.get("/accounts/data/").content.decode()
    assert "Prepare my data" in page and "recovery codes" in page
    logged_in.post("/accounts/data/")
    page = logged_in.get("/accounts/data/").content.decode()
    assert "Being prepared" in page and '<meta http-equiv="refresh"' in page
    # The one-time token stays in the server-side session: never in the page.
    assert logged_in.session["data_export_token"] not in page


def test_data_export_second_request_prepares_one_copy_and_keeps_the_latest_link(logged_in, browser):
    logged_in.post("/accounts/data/")
    logged_in.post("/accounts/data/")
    export = DataExport.objects.get()
    data_export_prepare.call(export.pk)
    page = logged_in.get("/accounts/data/").content.decode()
    assert "Ready to download" in page and "Download my data" in page
    assert download(logged_in).status_code == 200


def test_data_export_ready_copy_from_another_browser_is_taken_here_after_asking_again(user, client):
    first, second = client, type(client)()
    for browser in (first, second):
        assert (
            browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
        )
    prepare(first)
    page = second.get("/accounts/data/").content.decode()
    assert "asked for in another browser" in page and "Download my data" not in page
    assert download(second).status_code == 404
    second.post("/accounts/data/")
    assert DataExport.objects.count() == 1
    assert download(second).status_code == 200
    # The first browser's token was replaced: it cannot take the copy any more.
    assert download(first).status_code == 404


def test_data_export_stale_sign_in_goes_through_the_login_page(logged_in, settings):
    prepare(logged_in)
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "RECENT_AUTH_MAX_AGE": -1}
    page = logged_in.get("/accounts/data/")
    assert page.status_code == 302 and page["Location"] == "/accounts/login/?next=/accounts/data/"
    late = download(logged_in)
    assert late.status_code == 302 and late["Location"].startswith("/accounts/login/")
    assert DataExport.objects.get().status == DataExport.Status.READY
    # Signing in again (same session) lets the person confirm the download.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "RECENT_AUTH_MAX_AGE": 300}
    again = logged_in.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/accounts/data/download/"}
    )
    assert again["Location"] == "/accounts/data/download/"
    assert logged_in.get("/accounts/data/download/")["Location"] == "/accounts/data/"
    assert download(logged_in).status_code == 200


def test_data_export_signed_out_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/accounts/data/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_data_export_expired_copy_cannot_be_downloaded(logged_in):
    export = prepare(logged_in)
    DataExport.objects.filter(pk=export.pk).update(expires=timezone.now() - timedelta(seconds=1))
    response = download(logged_in)
    assert response.status_code == 410 and "This copy has expired" in response.content.decode()
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED and export.payload_encrypted == ""
    assert "not downloaded in time" in logged_in.get("/accounts/data/").content.decode()


def test_data_export_lifetime_setting_sets_the_expiry(logged_in, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "DATA_EXPORT_LIFETIME": 120}
    export = prepare(logged_in)
    assert export.expires - export.ready == timedelta(seconds=120)


def test_housekeeping_clears_expired_data_exports(logged_in):
    export = prepare(logged_in)
    assert housekeeping_prune()["data_exports_expired"] == 0
    DataExport.objects.filter(pk=export.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert housekeeping_prune()["data_exports_expired"] == 1
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED and export.payload_encrypted == ""


def test_exportuser_command_writes_the_document_and_is_audited(user):
    out = StringIO()
    call_command("exportuser", "alice", stdout=out)
    document = json.loads(out.getvalue())
    assert document["subject"] == user.subject and document["profile"]["email"] == "alice@example.com"
    event = AuditEvent.objects.get(action="data_export.command")
    assert event.target == "alice" and event.actor_label == "manage.py exportuser"


def test_exportuser_command_writes_a_file_only_its_owner_reads(user, tmp_path):
    target = tmp_path / "alice.json"
    call_command("exportuser", "alice", "--output", str(target), stdout=StringIO(), stderr=StringIO())
    assert json.loads(target.read_text())["account"]["username"] == "alice"
    assert target.stat().st_mode & 0o077 == 0


def test_exportuser_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user called 'nobody'"):
        call_command("exportuser", "nobody", stdout=StringIO())


def test_admin_user_page_exports_the_users_data(staff, root, user):
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Export this user’s data" in page
    response = staff.post(f"/admin/accounts/user/{user.pk}/act/data_export/")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert 'filename="porchlight-data-alice-' in response["Content-Disposition"]
    assert json.loads(response.content)["subject"] == user.subject
    event = AuditEvent.objects.get(action="data_export.staff")
    assert event.target == "alice" and event.actor == root


@pytest.mark.django_db(transaction=True)
def test_data_export_task_worker_prepares_the_copy_and_mails_the_user(logged_in, mailoutbox):
    logged_in.post("/accounts/data/")
    # The worker `make run` starts, until no task is due.
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
    export = DataExport.objects.get()
    assert export.status == DataExport.Status.READY and export.expires > timezone.now()
    (mail,) = mailoutbox
    assert mail.to == ["alice@example.com"] and "ready" in mail.subject
    assert "sign in" in mail.body.lower() and "/accounts/data" not in mail.body
    assert download(logged_in).status_code == 200


@concurrent_database
def test_data_export_parallel_downloads_give_one_copy(live_server, transactional_db, user, monkeypatch):
    # As tests/e2e/conftest.py's issuer: no idle PostgreSQL session may outlive the test.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    http = requests.Session()
    login_page = http.get(f"{live_server.url}/accounts/login/", timeout=30).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    http.post(
        f"{live_server.url}/accounts/login/",
        {"csrfmiddlewaretoken": csrf, "username": "alice", "password": PASSWORD},
        timeout=30,
    )
    page = http.get(f"{live_server.url}/accounts/data/", timeout=30).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    headers = {"Referer": f"{live_server.url}/accounts/data/"}
    http.post(f"{live_server.url}/accounts/data/", {"csrfmiddlewaretoken": csrf}, headers=headers, timeout=30)
    data_export_prepare.call(DataExport.objects.get().pk)

    barrier, statuses = threading.Barrier(4), []

    def take() -> None:
        # One browser, several connections: the same session cookie and token on each.
        tab = requests.Session()
        tab.cookies.update(http.cookies)
        barrier.wait()
        response = tab.post(
            f"{live_server.url}/accounts/data/download/",
            {"csrfmiddlewaretoken": csrf},
            headers=headers,
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted(statuses) == [200, 410, 410, 410]
    assert AuditEvent.objects.filter(action="data_export.download").count() == 1
