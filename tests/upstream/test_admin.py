"""Staff configure upstream providers in the admin (secret write-only, audited) and see linked identities."""

from accounts import encryption
from audit.models import AuditEvent
from tests.upstream.helpers import round_trip
from upstream.models import LinkedIdentity, UpstreamProvider

ADD = "/admin/upstream/upstreamprovider/add/"


def form_data(**fields) -> dict:
    return {
        "label": "Example",
        "slug": "example",
        "icon": "openid",
        "enabled": "on",
        "order": "0",
        "kind": "oidc",
        "discovery_url": "https://id.example.com/.well-known/openid-configuration",
        "client_id": "porchlight",
        "client_secret": "s3cret-value-from-upstream",
        "scopes": "openid email profile",
        "claim_map": '{"given_name": "first_name"}',
        "group_claim": "groups",
        "group_map": "{}",
        "allowed_domains": "",
        **fields,
    }


def test_admin_adds_a_provider_with_its_secret_encrypted_and_never_shown(staff):
    response = staff.post(ADD, form_data())
    assert response.status_code == 302, response.content[:2000]
    provider = UpstreamProvider.objects.get(slug="example")
    assert encryption.decrypt(provider.client_secret_encrypted) == b"s3cret-value-from-upstream"
    assert "s3cret" not in provider.client_secret_encrypted
    page = staff.get(f"/admin/upstream/upstreamprovider/{provider.pk}/change/").content.decode()
    assert "s3cret-value-from-upstream" not in page and provider.client_secret_encrypted not in page
    assert "http://127.0.0.1:8000/upstream/example/callback/" in page
    assert "http://127.0.0.1:8000/upstream/example/backchannel-logout/" in page
    # Saving without a secret keeps the stored one.
    data = form_data(label="Example Corp", client_secret="")
    assert staff.post(f"/admin/upstream/upstreamprovider/{provider.pk}/change/", data).status_code == 302
    provider.refresh_from_db()
    assert encryption.decrypt(provider.client_secret_encrypted) == b"s3cret-value-from-upstream"
    events = list(AuditEvent.objects.filter(action__startswith="upstream.provider").order_by("pk"))
    assert [event.action for event in events] == ["upstream.provider_create", "upstream.provider_change"]
    # The JSON maps' hidden initial values are not posted here, so the admin counts them changed too.
    changed = events[1].detail["fields"]
    assert "label" in changed and "client_secret (replaced)" not in changed
    assert "s3cret" not in str([event.detail for event in events])
    assert "Sign-in providers" in staff.get("/admin/").content.decode()


def test_admin_refuses_a_provider_without_secret_or_discovery_or_with_a_bad_map(staff):
    for data in (
        form_data(client_secret=""),
        form_data(discovery_url=""),
        form_data(claim_map='{"given_name": "is_superuser"}'),
        form_data(scopes="email profile"),
    ):
        response = staff.post(ADD, data)
        assert response.status_code == 200 and b"errorlist" in response.content
    assert not UpstreamProvider.objects.exists()


def test_user_page_lists_linked_identities_and_unlinks(staff, corp, fake_oidc, client):
    round_trip(client, "corp")
    identity = LinkedIdentity.objects.get()
    page = staff.get(f"/admin/accounts/user/{identity.user_id}/change/").content.decode()
    assert "Sign-in providers" in page and "upstream-user-1" in page
    url = f"/admin/accounts/user/{identity.user_id}/act/upstream_unlink/"
    response = staff.post(url, {"identity": identity.pk}, follow=True)
    assert response.status_code == 200
    assert not LinkedIdentity.objects.exists()
    event = AuditEvent.objects.get(action="upstream.unlink")
    assert event.actor.username == "root"


def test_reencrypt_moves_the_upstream_secret_to_the_new_key(settings, corp, fake_oidc, client):
    old = corp.client_secret_encrypted
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "KEY_ENCRYPTION_KEY": "a new key-encryption key",
        "KEY_ENCRYPTION_KEY_FALLBACKS": [settings.PORCHLIGHT["KEY_ENCRYPTION_KEY"]],
    }
    result = encryption.encrypted_values_reencrypt(actor_label="test")
    assert result.reencrypted["upstream.UpstreamProvider.client_secret_encrypted"] == 1
    corp.refresh_from_db()
    assert corp.client_secret_encrypted != old and encryption.is_current(corp.client_secret_encrypted)
    # The upstream still accepts the secret: the sign-in goes through.
    assert round_trip(client, "corp").status_code == 302
