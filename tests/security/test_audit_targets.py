"""A person's data export and admin page show only events about them, never another's session.

Audit events used to be matched to a user by their ``target`` text; a back-channel logout
delivery's event names its client, and a client can be named like a user. So an app called
"alice" put bob's session id into alice's data export and onto her page in the admin. Events now
record what they are about as a typed row reference (user, client, ...), and a person's events
are found by that.
"""

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client as BrowserClient

from accounts.export.services import data_export_document
from audit.models import AuditEvent
from audit.services import audit_record
from tests.conftest import PASSWORD, authorize, exchange, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD, email="bob@example.com")


def bobs_sid_after_signing_out_of_app_named_alice(make_client, signing_keys, receiver, client) -> str:
    """bob signs in to an app called "alice", then signs out; return his session's sid."""
    app = make_client(name="alice", logout={"backchannel_logout_uri": receiver.url})
    browser = sign_in(BrowserClient(), "bob", PASSWORD)
    exchange(client, app, authorize(browser, app, scope="openid"))
    sid = browser.session["porchlight_auth"]["sid"]
    browser.post("/accounts/logout/")
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
    assert AuditEvent.objects.filter(action="logout_delivery.delivered", detail__sid=sid).exists()
    return sid


def test_data_export_holds_no_event_about_an_app_named_like_the_user(
    user, bob, make_client, signing_keys, receiver, client
):
    sid = bobs_sid_after_signing_out_of_app_named_alice(make_client, signing_keys, receiver, client)
    document = data_export_document(user=user)
    assert sid not in str(document["audit_events"])
    assert all(event["action"] != "logout_delivery.delivered" for event in document["audit_events"])
    # bob's own export still tells him of his sign-in and sign-out.
    actions = {event["action"] for event in data_export_document(user=bob)["audit_events"]}
    assert {"login.success", "logout"} <= actions


def test_admin_user_page_shows_no_event_about_an_app_named_like_the_user(
    user, bob, make_client, signing_keys, receiver, client, staff
):
    sid = bobs_sid_after_signing_out_of_app_named_alice(make_client, signing_keys, receiver, client)
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert sid not in page and "logout_delivery" not in page


def test_failed_sign_in_to_an_account_is_in_its_owners_export(user, bob):
    BrowserClient().post("/accounts/login/", {"username": "alice", "password": "wrong"})
    BrowserClient().post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    failures = [e for e in data_export_document(user=user)["audit_events"] if e["action"] == "login.failure"]
    assert len(failures) == 1 and failures[0]["target"] == "alice"
    assert not any(e["action"] == "login.failure" for e in data_export_document(user=bob)["audit_events"])


def test_events_recorded_before_typed_targets_are_typed_by_the_migration(user, make_client):
    app = make_client(name="alice")
    # As the log held them before: plain text targets, a client named like a user among them.
    about_alice = audit_record(action="login.success", target="alice")
    about_app = audit_record(action="logout_delivery.delivered", target="alice", detail={"sid": "bobs"})
    about_client = audit_record(action="client.change", target=app.client_id)
    AuditEvent.objects.update(target_type="", target_id="")
    migration = importlib.import_module("audit.migrations.0003_typed_targets")
    migration.type_targets(apps, None)
    typed = {event.pk: (event.target_type, event.target_id) for event in AuditEvent.objects.all()}
    assert typed[about_alice.pk] == ("user", str(user.pk))
    assert typed[about_app.pk] == ("client", str(app.model.pk))
    assert typed[about_client.pk] == ("client", str(app.model.pk))
    assert "bobs" not in str(data_export_document(user=user)["audit_events"])
