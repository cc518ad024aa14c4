"""Linking an upstream identity to an account, Porchlight's MFA after it, profile and group sync, unlink."""

from django.contrib.auth.models import Group

from accounts.mfa.models import TOTPAuthenticator
from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, authorize, exchange, validate_id_token
from tests.upstream.helpers import auth_context, round_trip, totp_code
from upstream.models import LinkedIdentity


def link_alice(client, corp, fake_oidc) -> LinkedIdentity:
    """Link the upstream identity to alice the only way there is: she signs in and confirms."""
    fake_oidc.behaviour.claims = {"email": "alice@example.com"}
    assert round_trip(client, "corp")["Location"] == "/upstream/link/"
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/upstream/link/"})
    assert client.post("/upstream/link/").status_code == 302
    client.post("/accounts/logout/")
    return LinkedIdentity.objects.get(user__username="alice")


def test_matching_address_links_only_after_the_owner_signs_in(client, corp, fake_oidc, user):
    fake_oidc.behaviour.claims = {"email": "ALICE@example.com"}
    response = round_trip(client, "corp", next_url="/accounts/profile/")
    assert response["Location"] == "/upstream/link/"
    # Not signed in, nothing linked: the upstream's word on the address is not enough.
    assert client.get("/accounts/").status_code == 302
    assert not LinkedIdentity.objects.exists()
    page = client.get("/upstream/link/").content.decode()
    assert "sign in to it first the way you usually do" in page
    assert "/accounts/login/?next=%2Fupstream%2Flink%2F" in page
    # A POST before the owner signed in links nothing.
    client.post("/upstream/link/")
    assert not LinkedIdentity.objects.exists()

    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/upstream/link/"})
    confirm = client.get("/upstream/link/").content.decode()
    assert "Link Corp" in confirm and "ALICE@example.com" in confirm
    done = client.post("/upstream/link/")
    assert done.status_code == 302 and done["Location"] == "/accounts/profile/"
    assert LinkedIdentity.objects.get(user=user).subject == "upstream-user-1"
    assert AuditEvent.objects.filter(action="upstream.link_offer").count() == 1
    assert AuditEvent.objects.filter(action="upstream.link", target_id=str(user.pk)).count() == 1

    # From now on the upstream sign-in reaches alice's account.
    client.post("/accounts/logout/")
    assert round_trip(client, "corp").status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    assert User.objects.count() == 1


def test_another_account_cannot_take_the_link(client, corp, fake_oidc, user, django_user_model):
    django_user_model.objects.create_user("bob", password=PASSWORD, email="bob@example.com")
    fake_oidc.behaviour.claims = {"email": "alice@example.com"}
    round_trip(client, "corp")
    client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    page = client.get("/upstream/link/").content.decode()
    assert "You are signed in to another account" in page
    client.post("/upstream/link/")
    assert not LinkedIdentity.objects.exists()


def test_upstream_sign_in_still_asks_porchlights_second_factor(client, corp, fake_oidc, user, rp):
    link_alice(client, corp, fake_oidc)
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    response = round_trip(client, "corp", next_url="/accounts/profile/")
    assert response["Location"].startswith("/accounts/mfa/authenticate/?next=%2Faccounts%2Fprofile%2F")
    assert client.get("/accounts/").status_code == 302  # not signed in yet
    step = client.post(
        "/accounts/mfa/authenticate/",
        {"method": "totp", "code": totp_code(device.bin_key, steps_ahead=1), "next": "/accounts/profile/"},
    )
    assert step.status_code == 302 and step["Location"] == "/accounts/profile/"
    assert auth_context(client)["amr"] == ["fed", "otp", "mfa"]
    result = authorize(client, rp, scope="openid")
    claims = validate_id_token(
        exchange(client, rp, result).json()["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=rp.client_id,
        nonce=result.nonce,
    )
    assert (claims["amr"], claims["acr"]) == (["fed", "otp", "mfa"], "mfa")


def test_trusted_upstream_second_factor_counts(client, corp, fake_oidc, user, rp):
    link_alice(client, corp, fake_oidc)
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    fake_oidc.behaviour.claims = {"email": "alice@example.com", "amr": ["pwd", "otp", "mfa", "made-up"]}
    # Not trusted: the upstream's own second factor does not count here.
    assert round_trip(client, "corp")["Location"].startswith("/accounts/mfa/authenticate/")
    client.cookies.clear()
    corp.trust_mfa = True
    corp.save()
    assert round_trip(client, "corp")["Location"] == "/accounts/"
    # Only registered RFC 8176 values are passed on.
    assert auth_context(client)["amr"] == ["fed", "pwd", "otp", "mfa"]
    result = authorize(client, rp, scope="openid")
    claims = validate_id_token(
        exchange(client, rp, result).json()["id_token"],
        jwks=client.get("/o/jwks/").json(),
        audience=rp.client_id,
        nonce=result.nonce,
    )
    assert claims["acr"] == "mfa"
    event = AuditEvent.objects.filter(action="upstream.sign_in").latest("pk")
    assert event.detail["mfa_trusted"] is True


def test_trusted_upstream_without_a_second_factor_still_asks(client, corp, fake_oidc, user):
    link_alice(client, corp, fake_oidc)
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    corp.trust_mfa = True
    corp.save()
    fake_oidc.behaviour.claims = {"email": "alice@example.com", "amr": ["pwd"]}
    assert round_trip(client, "corp")["Location"].startswith("/accounts/mfa/authenticate/")


def test_claims_and_groups_are_mapped_at_each_sign_in(client, corp, fake_oidc):
    corp.claim_map = {"given_name": "first_name", "nickname": "nickname"}
    corp.group_map = {"eng": "Engineers", "ops": "Operators"}
    corp.save()
    Group.objects.create(name="Operators")
    fake_oidc.behaviour.claims = {"nickname": "Newt", "groups": ["eng", "unmapped"]}
    round_trip(client, "corp")
    user = User.objects.get(email="new.person@example.org")
    assert (user.first_name, user.nickname) == ("New", "Newt")
    assert set(user.groups.values_list("name", flat=True)) == {"Engineers"}
    client.post("/accounts/logout/")
    fake_oidc.behaviour.claims = {"given_name": "Renamed", "groups": ["ops"]}
    round_trip(client, "corp")
    user.refresh_from_db()
    assert user.first_name == "Renamed"
    assert set(user.groups.values_list("name", flat=True)) == {"Operators"}


def test_account_page_lists_and_unlinks_identities(client, corp, fake_oidc):
    round_trip(client, "corp")
    user = User.objects.get(email="new.person@example.org")
    identity = LinkedIdentity.objects.get(user=user)
    page = client.get("/accounts/").content.decode()
    assert "Sign-in providers" in page and "Unlink Corp" in page
    # The only way this account signs in: unlinking it is refused.
    refused = client.post(f"/upstream/identities/{identity.pk}/unlink/", follow=True)
    assert "your only way to sign in" in refused.content.decode()
    assert LinkedIdentity.objects.filter(pk=identity.pk).exists()
    user.set_password(PASSWORD)
    user.save()
    # The password change signed this browser out. A session with no fresh sign-in is sent to
    # sign in again before it may remove a way in, and nothing is unlinked meanwhile.
    client.force_login(user)
    stale = client.post(f"/upstream/identities/{identity.pk}/unlink/")
    assert stale.status_code == 302 and stale["Location"].startswith("/accounts/login/")
    assert LinkedIdentity.objects.filter(pk=identity.pk).exists()
    signed_in = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    client.post(f"/upstream/identities/{identity.pk}/unlink/")
    assert not LinkedIdentity.objects.filter(pk=identity.pk).exists()
    assert AuditEvent.objects.filter(action="upstream.unlink", target_id=str(user.pk)).exists()


def test_nobody_unlinks_another_persons_identity(client, corp, fake_oidc, user):
    identity = link_alice(client, corp, fake_oidc)
    round_trip(client, "corp")  # alice, through the link
    client.post("/accounts/logout/")
    User.objects.create_user("mallory", password=PASSWORD)
    assert client.post("/accounts/login/", {"username": "mallory", "password": PASSWORD}).status_code == 302
    assert client.post(f"/upstream/identities/{identity.pk}/unlink/").status_code == 404
    assert LinkedIdentity.objects.filter(pk=identity.pk).exists()


def test_deactivated_account_is_not_signed_in(client, corp, fake_oidc, user):
    link_alice(client, corp, fake_oidc)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = round_trip(client, "corp")
    assert response.status_code == 400
    assert "deactivated" in response.content.decode()


def test_data_export_lists_linked_identities_and_erasure_removes_them(client, corp, fake_oidc):
    from accounts.export.services import EXPORT_SECTIONS
    from accounts.lifecycle.services import account_erase

    round_trip(client, "corp")
    user = User.objects.get(email="new.person@example.org")
    [row] = EXPORT_SECTIONS["linked_identities"](user)
    assert (row["provider"], row["subject"], row["email"]) == (
        "Corp",
        "upstream-user-1",
        "new.person@example.org",
    )
    account_erase(user=user, actor=None, actor_label="test")
    assert not LinkedIdentity.objects.exists()
    # The erased account is not reached again through the upstream: a new sign-in makes a new account.
    client.cookies.clear()
    round_trip(client, "corp")
    assert LinkedIdentity.objects.get().user_id != user.pk


def test_account_signed_in_through_one_upstream_links_another(client, corp, fake_oidc, github, fake_github):
    round_trip(client, "corp")  # an account made by Corp, with no password
    user = User.objects.get(email="new.person@example.org")
    # The account page's "Link another" goes through GitHub and back to a confirmation.
    page = client.get("/accounts/").content.decode()
    assert "/upstream/github/start/?next=%2Faccounts%2F" in page
    assert round_trip(client, "github", next_url="/accounts/")["Location"] == "/upstream/link/"
    assert "Link GitHub" in client.get("/upstream/link/").content.decode()
    client.post("/upstream/link/")
    assert set(LinkedIdentity.objects.filter(user=user).values_list("provider__slug", flat=True)) == {
        "corp",
        "github",
    }


def test_a_sign_in_waiting_to_be_linked_does_not_confirm_itself(client, corp, fake_oidc, user):
    fake_oidc.behaviour.claims = {"email": "alice@example.com"}
    round_trip(client, "corp")
    # Signed in as alice through an unrelated path that carries amr fed but no linked provider.
    client.force_login(user)
    session = client.session
    session["porchlight_auth"] = {"auth_time": 1, "amr": ["fed"], "sid": "made-up"}
    session.save()
    client.post("/upstream/link/")
    assert not LinkedIdentity.objects.exists()


def test_abandoned_upstream_sign_in_is_not_tied_to_the_next_password_sign_in(client, corp, fake_oidc, user):
    from upstream.models import UpstreamSession

    link_alice(client, corp, fake_oidc)
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    round_trip(client, "corp")  # waits at the second factor, and is left there
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    step = client.post(
        "/accounts/mfa/authenticate/",
        {"method": "totp", "code": totp_code(device.bin_key), "next": "/accounts/"},
    )
    assert step.status_code == 302 and auth_context(client)["amr"] == ["pwd", "otp", "mfa"]
    # The upstream's logout cannot end this sign-in: it did not begin it.
    assert not UpstreamSession.objects.exists()


def test_trusted_upstream_acr_named_by_staff_counts(client, corp, fake_oidc, user):
    link_alice(client, corp, fake_oidc)
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    corp.trust_mfa, corp.mfa_acr_values = True, "urn:example:loa:2fa silver"
    corp.save()
    fake_oidc.behaviour.claims = {"email": "alice@example.com", "acr": "urn:example:loa:1fa"}
    assert round_trip(client, "corp")["Location"].startswith("/accounts/mfa/authenticate/")
    client.cookies.clear()
    fake_oidc.behaviour.claims = {"email": "alice@example.com", "acr": "urn:example:loa:2fa"}
    assert round_trip(client, "corp")["Location"] == "/accounts/"
    assert auth_context(client)["amr"] == ["fed", "mfa"]
