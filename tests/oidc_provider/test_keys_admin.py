"""Signing keys for operators: the admin list and actions, their audit trail, and keys at rest."""

import json

import pytest

from audit.models import AuditEvent
from oidc_provider import keys
from oidc_provider.models import Algorithm, SigningKey
from tests.conftest import authorize, exchange
from tests.tokens import kid_of

KEYS_ADMIN = "/admin/oidc_provider/signingkey/"
AUDIT_ADMIN = "/admin/audit/auditevent/"
JWKS = "/o/jwks/"


def run_action(staff, action: str, *rows: SigningKey, query: str = ""):
    return staff.post(
        KEYS_ADMIN + query, {"action": action, "_selected_action": [row.pk for row in rows]}, follow=True
    )


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def active_key(algorithm: str) -> SigningKey:
    return SigningKey.objects.get(algorithm=algorithm, state=SigningKey.State.ACTIVE)


def id_token_kid(browser, client, rp) -> str:
    body = exchange(client, rp, authorize(browser, rp)).json()
    return kid_of(body["id_token"])


def published_kids(http) -> set[str]:
    keys.clear_cache()
    return {key["kid"] for key in http.get(JWKS).json()["keys"]}


def test_keys_admin_list_shows_algorithm_kid_and_state(staff, signing_keys):
    upcoming = keys.signing_key_create(algorithm=Algorithm.ES256, state=SigningKey.State.NEXT)
    page = staff.get(KEYS_ADMIN)
    assert page.status_code == 200
    html = page.content.decode()
    for row in SigningKey.objects.all():
        assert row.kid in html
        assert row.algorithm in html
    assert "active (signing)" in html
    assert "next (published, not yet signing)" in html
    assert upcoming.kid in html


def test_keys_admin_rotate_now_replaces_active_key_and_audits_staff_user(staff, root, rp, logged_in, client):
    old = active_key(Algorithm.RS256)

    response = run_action(staff, "rotate_now", old)

    assert response.status_code == 200
    new = active_key(Algorithm.RS256)
    assert new.kid != old.kid
    assert f"RS256: promoted {new.kid}" in messages_of(response)
    assert id_token_kid(logged_in, client, rp) == new.kid
    assert {old.kid, new.kid} <= published_kids(client)
    # Only the selected key's algorithm rotated.
    assert SigningKey.objects.filter(state=SigningKey.State.RETIRED).count() == 1
    events = AuditEvent.objects.filter(action__startswith="signing_key.").exclude(
        action="signing_key.created_active"
    )
    assert sorted((event.action, event.target) for event in events) == sorted(
        [
            ("signing_key.created_next", f"RS256 {new.kid}"),
            ("signing_key.retired", f"RS256 {old.kid}"),
            ("signing_key.promoted", f"RS256 {new.kid}"),
        ]
    )
    assert {(event.actor_id, event.actor_label) for event in events} == {(root.pk, "root")}


def test_keys_admin_retire_active_key_replaces_it_and_keeps_it_published(
    staff, root, make_client, signing_keys, logged_in, client
):
    rp = make_client(algorithm=Algorithm.ES256)
    old = active_key(Algorithm.ES256)

    run_action(staff, "retire", old)

    new = active_key(Algorithm.ES256)
    assert SigningKey.objects.get(pk=old.pk).state == SigningKey.State.RETIRED
    assert id_token_kid(logged_in, client, rp) == new.kid
    assert old.kid in published_kids(client)
    retired = AuditEvent.objects.get(action="signing_key.retired")
    assert (retired.target, retired.actor_id) == (f"ES256 {old.kid}", root.pk)


def test_keys_admin_retire_next_key_means_it_never_signs(staff, root, rp, signing_keys, logged_in, client):
    upcoming = keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.NEXT)

    response = run_action(staff, "retire", upcoming)

    assert f"RS256: retired {upcoming.kid}" in messages_of(response)
    event = AuditEvent.objects.get(action="signing_key.retired")
    assert (event.target, event.actor_id, event.actor_label) == (f"RS256 {upcoming.kid}", root.pk, "root")
    # A rotation afterwards makes a fresh key rather than promoting the retired one.
    run_action(staff, "rotate_now", active_key(Algorithm.RS256))
    assert id_token_kid(logged_in, client, rp) not in {upcoming.kid, signing_keys.active["RS256"][0]}


# The action runs in the list's order: the staff user may have sorted it by state either way.
@pytest.mark.parametrize("order", ["?o=3", "?o=-3"])
def test_keys_admin_retire_active_and_next_together_leaves_a_signing_key(order, staff, rp, logged_in, client):
    old = active_key(Algorithm.RS256)
    upcoming = keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.NEXT)

    run_action(staff, "retire", old, upcoming, query=order)

    assert id_token_kid(logged_in, client, rp) not in {old.kid, upcoming.kid}
    assert set(
        SigningKey.objects.filter(kid__in=[old.kid, upcoming.kid]).values_list("state", flat=True)
    ) == {SigningKey.State.RETIRED}


def test_keys_admin_pages_never_show_private_keys(staff, signing_keys):
    run_action(staff, "rotate_now", active_key(Algorithm.EDDSA))
    secrets = []
    for row in SigningKey.objects.all():
        private = json.loads(keys.decrypt_private_jwk(row.private_jwk_encrypted).export_private())
        secrets += [row.private_jwk_encrypted, private["d"]]
    pages = [KEYS_ADMIN, AUDIT_ADMIN, "/admin/"]
    for row in SigningKey.objects.all():
        pages += [f"{KEYS_ADMIN}{row.pk}/change/", f"{KEYS_ADMIN}{row.pk}/history/"]
    pages += [f"{AUDIT_ADMIN}{event.pk}/change/" for event in AuditEvent.objects.all()]
    for path in pages:
        response = staff.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, path


def test_keys_admin_cannot_add_or_edit_keys(staff, signing_keys):
    row = active_key(Algorithm.RS256)
    assert staff.get(f"{KEYS_ADMIN}add/").status_code == 403
    staff.post(f"{KEYS_ADMIN}{row.pk}/change/", {"state": SigningKey.State.RETIRED})
    assert active_key(Algorithm.RS256).pk == row.pk


def test_audit_admin_lists_key_events_with_actor(staff, signing_keys):
    run_action(staff, "rotate_now", active_key(Algorithm.PS256))
    page = staff.get(AUDIT_ADMIN).content.decode()
    for event in AuditEvent.objects.all():
        assert event.action in page
        assert event.target in page
    assert "root" in page
    filtered = staff.get(AUDIT_ADMIN, {"action": "signing_key.promoted"}).content.decode()
    promoted = AuditEvent.objects.get(action="signing_key.promoted")
    listed = filtered.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert promoted.target in listed
    assert "signing_key.created_next" not in listed


def test_keys_wrong_key_encryption_key_still_publishes_but_refuses_to_sign(settings, signing_keys, client):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "KEY_ENCRYPTION_KEY": "not the key they were stored with"}
    keys.clear_cache()
    # JWKS needs only public keys, so relying parties can still verify existing tokens.
    assert published_kids(client) == set(SigningKey.objects.values_list("kid", flat=True))
    with pytest.raises(keys.SigningKeyUnavailable, match="PORCHLIGHT_KEY_ENCRYPTION_KEY"):
        keys.sign({"sub": "x"}, algorithm="RS256")


def test_keys_stored_encrypted_sign_again_with_the_right_key(settings, signing_keys, client):
    right = settings.PORCHLIGHT
    settings.PORCHLIGHT = {**right, "KEY_ENCRYPTION_KEY": "wrong"}
    keys.clear_cache()
    with pytest.raises(keys.SigningKeyUnavailable):
        keys.sign({"sub": "x"}, algorithm="ES256")
    settings.PORCHLIGHT = right
    keys.clear_cache()
    assert keys.verify(keys.sign({"sub": "x"}, algorithm="ES256")) == {"sub": "x"}
