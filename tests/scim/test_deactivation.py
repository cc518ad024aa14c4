"""Turning an account off through SCIM does what staff deactivation does: sessions end, tokens die,
apps are told by back-channel logout."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient

from accounts.lifecycle.services import account_erase
from accounts.models import LoginSession
from scim.models import ProvisionedUser
from tests.conftest import PASSWORD, authorize, exchange, sign_in
from tests.logout_receiver import LogoutReceiver
from tests.oauth import introspection, refresh, userinfo_status
from tests.scim.conftest import body_of, error_of
from tests.tokens import claims_of


@pytest.fixture
def app_tokens(rp, logged_in, client) -> dict:
    """Tokens an app holds for alice: an access token and an offline refresh token."""
    return exchange(client, rp, authorize(logged_in, rp)).json()


def test_scim_active_false_signs_out_and_revokes_every_token(scim, user, rp, client, logged_in, app_tokens):
    elsewhere = sign_in(BrowserClient(), "alice", PASSWORD)
    response = scim.patch(f"/Users/{user.pk}", {"op": "replace", "path": "active", "value": False})
    assert body_of(response)["active"] is False

    assert logged_in.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert elsewhere.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert not LoginSession.objects.filter(user=user, ended__isnull=True).exists()
    assert userinfo_status(client, app_tokens["access_token"]) == 401
    assert introspection(client, rp, app_tokens["access_token"]) == {"active": False}
    assert refresh(client, rp, app_tokens["refresh_token"]).json()["error"] == "invalid_grant"
    signed_in = BrowserClient().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert signed_in.status_code != 302


def test_scim_put_active_false_deactivates_and_true_lets_them_back(scim, user):
    resource = body_of(scim.get(f"/Users/{user.pk}"))
    body_of(scim.put(f"/Users/{user.pk}", {**resource, "active": False}))
    user.refresh_from_db()
    assert not user.is_active
    body_of(scim.put(f"/Users/{user.pk}", {**resource, "active": True}))
    user.refresh_from_db()
    assert user.is_active
    assert sign_in(BrowserClient(), "alice", PASSWORD).get("/accounts/").status_code == 200


def test_scim_delete_closes_the_account_for_erasure(scim, user, app_tokens, client):
    assert scim.delete(f"/Users/{user.pk}").status_code == 204
    user.refresh_from_db()
    assert not user.is_active and user.erase_after is not None
    assert userinfo_status(client, app_tokens["access_token"]) == 401
    error_of(scim.patch(f"/Users/{user.pk}", {"op": "replace", "value": {"active": True}}), 404)


def test_scim_cannot_deactivate_the_only_active_superuser(scim, root):
    error_of(
        scim.patch(f"/Users/{root.pk}", {"op": "replace", "value": {"active": False}}), 400, "mutability"
    )
    root.refresh_from_db()
    assert root.is_active


@pytest.mark.django_db(transaction=True)
def test_scim_deactivation_tells_every_app_by_back_channel_logout(
    scim, make_client, signing_keys, user, client
):
    receiver = LogoutReceiver().start()
    try:
        app = make_client(name="Wiki", logout={"backchannel_logout_uri": receiver.url})
        exchange(client, app, authorize(sign_in(BrowserClient(), "alice", PASSWORD), app, scope="openid"))
        body_of(scim.patch(f"/Users/{user.pk}", {"op": "Replace", "path": "active", "value": "False"}))
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
        assert [claims_of(token)["aud"] for token in receiver.tokens] == [app.client_id]
        assert claims_of(receiver.tokens[0])["sub"] == user.subject
    finally:
        receiver.stop()


def test_scim_put_without_active_keeps_the_account_off(scim, user):
    body_of(scim.patch(f"/Users/{user.pk}", {"op": "replace", "path": "active", "value": False}))
    replaced = body_of(
        scim.put(f"/Users/{user.pk}", {"userName": "alice", "emails": [{"value": "alice@example.com"}]})
    )
    assert replaced["active"] is False and "name" not in replaced
    user.refresh_from_db()
    assert not user.is_active and user.first_name == ""


def test_scim_attributes_of_an_erased_account_are_erased_too(scim, user):
    body_of(
        scim.patch(
            f"/Users/{user.pk}", {"op": "replace", "value": {"displayName": "Alice L.", "externalId": "e-1"}}
        )
    )
    assert ProvisionedUser.objects.get(user=user).display_name == "Alice L."
    account_erase(user=user, actor=None)
    assert not ProvisionedUser.objects.filter(user=user).exists()
    error_of(scim.get(f"/Users/{user.pk}"), 404)
    assert body_of(scim.get("/Users", filter='externalId eq "e-1"'))["totalResults"] == 0


def test_scim_attributes_are_in_the_persons_data_export(scim, user):
    body_of(scim.patch(f"/Users/{user.pk}", {"op": "replace", "value": {"externalId": "emp-77"}}))
    out = StringIO()
    call_command("exportuser", "alice", stdout=out)
    assert '"scim_external_id": "emp-77"' in out.getvalue()
