"""Client secrets: hashed with the fast client-secret hasher, and never weak (hashers.py)."""

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.exceptions import ValidationError
from oauth2_provider.generators import generate_client_secret

from oidc_provider.forms import ClientAdminForm
from oidc_provider.hashers import ClientSecretHasher, client_secret_problem
from oidc_provider.models import Client
from oidc_provider.services import client_secret_set
from tests.conftest import basic_auth

STRONG = "Zq8vN2xK7pL4mR9tW3yB6cD1fG5hJ0sA"  # 32 mixed characters, ~190 bits


def test_hashers_client_secret_is_stored_hashed(make_client):
    rp = make_client()
    stored = Client.objects.get(pk=rp.model.pk).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert rp.client_secret not in stored
    assert identify_hasher(stored).algorithm == ClientSecretHasher.algorithm


def test_hashers_stored_secret_verifies(make_client):
    rp = make_client()
    stored = Client.objects.get(pk=rp.model.pk).client_secret
    assert check_password(rp.client_secret, stored)
    assert not check_password(rp.client_secret + "x", stored)
    assert not check_password("", stored)


def test_hashers_public_client_has_no_secret(make_client):
    rp = make_client(public=True)
    assert rp.client_secret is None
    assert Client.objects.get(pk=rp.model.pk).client_secret == ""


def test_hashers_encode_is_salted():
    hasher = ClientSecretHasher()
    first = hasher.encode(STRONG, hasher.salt())
    second = hasher.encode(STRONG, hasher.salt())
    assert first != second
    assert hasher.verify(STRONG, first) and hasher.verify(STRONG, second)
    assert not hasher.verify(STRONG[:-1], first)


def test_hashers_safe_summary_masks_hash():
    hasher = ClientSecretHasher()
    encoded = hasher.encode(STRONG, hasher.salt())
    digest = encoded.split("$")[2]
    summary = {str(key): value for key, value in hasher.safe_summary(encoded).items()}
    assert summary["algorithm"] == "client_secret_sha256"
    assert digest not in summary["hash"]


def test_hashers_reset_secret_replaces_old_one(make_client, client, signing_keys):
    rp = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    new = client_secret_set(client=rp.model)
    stored = Client.objects.get(pk=rp.model.pk).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert check_password(new, stored) and not check_password(rp.client_secret, stored)
    old = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": rp.client_id, "client_secret": rp.client_secret},
    )
    assert old.status_code == 401
    fresh = client.post(
        "/o/token/", {"grant_type": "client_credentials", "client_id": rp.client_id, "client_secret": new}
    )
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    "secret",
    [
        "secret",
        "password123",
        "a" * 64,
        "abcdefghijklmnopqrstuvwxyzabcdef",
        "zyxwvutsrqponmlkjihgfedcbaZYXWVU",
        "0123456789" * 4,
        "Password1!" * 3,
        "Password1!Password1!Password1!Pa",
        "aaaaaaaabbbbbbbbccccccccdddddddd",
    ],
)
def test_hashers_weak_secret_is_refused_by_full_clean(secret, db):
    client = Client(
        name="Hand made",
        client_type=Client.CLIENT_CONFIDENTIAL,
        grant_types=["client_credentials"],
        client_secret=secret,
    )
    with pytest.raises(ValidationError) as raised:
        client.full_clean()
    assert "client_secret" in raised.value.message_dict
    assert client_secret_problem(secret)


def test_hashers_strong_secret_is_accepted_by_full_clean(db):
    client = Client(
        name="Hand made",
        client_type=Client.CLIENT_CONFIDENTIAL,
        grant_types=["client_credentials"],
        client_secret=STRONG,
    )
    client.full_clean()
    client.save()
    stored = Client.objects.get(pk=client.pk).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert check_password(STRONG, stored)


def admin_form(**overrides) -> ClientAdminForm:
    data = {
        "name": "Admin made",
        "kind": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": "https://rp.example.com/callback",
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "RS256",
        "access_token_format": "jwt",
        "access_token_algorithm": "RS256",
        **overrides,
    }
    return ClientAdminForm(data=data)


@pytest.mark.parametrize("secret", ["hunter2", "correct horse battery staple", "x" * 40])
def test_hashers_admin_form_refuses_weak_secret(secret, db):
    form = admin_form(new_client_secret=secret)
    assert not form.is_valid()
    assert "new_client_secret" in form.errors


def test_hashers_admin_form_accepts_strong_secret(db):
    form = admin_form(new_client_secret=STRONG)
    assert form.is_valid(), form.errors


def test_hashers_admin_form_refuses_secret_for_public_client(db):
    form = admin_form(kind="native", new_client_secret=STRONG)
    assert not form.is_valid()
    assert "new_client_secret" in form.errors


def test_hashers_already_hashed_secret_is_not_judged_weak():
    hasher = ClientSecretHasher()
    assert client_secret_problem(hasher.encode("short", hasher.salt())) is None
    assert client_secret_problem("") is None


def test_hashers_generated_secrets_are_never_judged_weak():
    for _ in range(50):
        assert client_secret_problem(generate_client_secret()) is None


def test_hashers_public_client_turned_confidential_gets_a_real_secret(make_client, signing_keys, client):
    # An empty secret never authenticates, even if a public client is later made confidential.
    rp = make_client(public=True, grant_types=["authorization_code"])
    rp.model.client_type = Client.CLIENT_CONFIDENTIAL
    rp.model.grant_types = ["client_credentials"]
    rp.model.save()
    for auth in ({"client_id": rp.client_id, "client_secret": ""}, {"client_id": rp.client_id}):
        response = client.post("/o/token/", {"grant_type": "client_credentials", **auth})
        assert response.status_code == 401
    basic = client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth(rp.client_id, "")
    )
    assert basic.status_code == 401


def test_hashers_secret_reset_is_hashed_even_for_a_hand_made_row(db):
    # However the row was made, a secret is never stored in cleartext.
    client = Client.objects.create(
        name="Raw", client_type=Client.CLIENT_CONFIDENTIAL, grant_types=["client_credentials"]
    )
    secret = client_secret_set(client=client)
    stored = Client.objects.get(pk=client.pk).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert check_password(secret, stored)
