"""claims.py: the one scope -> claims path (OIDC Core 1.0 §5.1, §5.4)."""

import uuid
from datetime import date

import pytest

from oidc_provider.claims import claim_scope, claims_for, supported_claims
from oidc_provider.standard_claims import SCOPE_CLAIMS

PROFILE = {
    "name": "Alice Pleasance Liddell",
    "given_name": "Alice",
    "family_name": "Liddell",
    "middle_name": "Pleasance",
    "nickname": "Al",
    "preferred_username": "alice.l",
    "profile": "https://example.com/alice",
    "picture": "https://example.com/alice.png",
    "website": "https://alice.example.com",
    "gender": "female",
    "birthdate": "1852-05-04",
    "zoneinfo": "Europe/London",
    "locale": "en-GB",
}


@pytest.fixture
def full_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="alice",
        password="x",
        first_name="Alice",
        last_name="Liddell",
        middle_name="Pleasance",
        nickname="Al",
        preferred_username="alice.l",
        profile="https://example.com/alice",
        picture="https://example.com/alice.png",
        website="https://alice.example.com",
        gender="female",
        birthdate=date(1852, 5, 4),
        zoneinfo="Europe/London",
        locale="en-GB",
        email="alice@example.com",
        email_verified=True,
        phone_number="+441632960000",
        phone_number_verified=False,
        address_formatted="1 Christ Church, Oxford",
        address_street_address="1 Christ Church",
        address_locality="Oxford",
        address_region="Oxfordshire",
        address_postal_code="OX1 1DP",
        address_country="GB",
    )


@pytest.fixture
def bare_user(db, django_user_model):
    return django_user_model.objects.create_user(username="bob", password="x")


def test_claims_openid_releases_only_sub(full_user):
    assert claims_for(full_user, ["openid"]) == {"sub": full_user.subject}


def test_claims_profile_releases_exactly_profile_claims(full_user):
    claims = claims_for(full_user, ["profile"])
    assert set(claims) == set(SCOPE_CLAIMS["profile"])
    for name, value in PROFILE.items():
        assert claims[name] == value, name


def test_claims_email_releases_exactly_email_claims(full_user):
    assert claims_for(full_user, ["email"]) == {"email": "alice@example.com", "email_verified": True}


def test_claims_phone_releases_exactly_phone_claims(full_user):
    assert claims_for(full_user, ["phone"]) == {
        "phone_number": "+441632960000",
        "phone_number_verified": False,
    }


def test_claims_address_releases_structured_address(full_user):
    # OIDC Core 1.0 §5.1.1: a JSON object of the parts that are set.
    assert claims_for(full_user, ["address"]) == {
        "address": {
            "formatted": "1 Christ Church, Oxford",
            "street_address": "1 Christ Church",
            "locality": "Oxford",
            "region": "Oxfordshire",
            "postal_code": "OX1 1DP",
            "country": "GB",
        }
    }


def test_claims_scopes_combine(full_user):
    claims = claims_for(full_user, ["openid", "email", "phone"])
    assert set(claims) == {"sub", "email", "email_verified", "phone_number", "phone_number_verified"}


@pytest.mark.parametrize("scopes", [[], ["offline_access"], ["admin", "read"], ["Profile", "EMAIL"]])
def test_claims_other_scopes_release_nothing(scopes, full_user):
    assert claims_for(full_user, scopes) == {}


def test_claims_updated_at_is_epoch_seconds(full_user):
    updated_at = claims_for(full_user, ["profile"])["updated_at"]
    # OIDC Core 1.0 §5.1: a JSON number of seconds since 1970-01-01T00:00:00Z.
    assert isinstance(updated_at, int) and not isinstance(updated_at, bool)
    assert updated_at == int(full_user.updated_at.timestamp())


def test_claims_empty_values_are_omitted(bare_user):
    # OIDC Core 1.0 §5.3.2: claims with no value are left out, not sent as null or "".
    assert claims_for(bare_user, ["email", "phone", "address"]) == {}
    profile = claims_for(bare_user, ["profile"])
    assert profile == {"preferred_username": "bob", "updated_at": int(bare_user.updated_at.timestamp())}
    assert None not in profile.values() and "" not in profile.values()


def test_claims_partial_address_has_only_set_parts(bare_user):
    bare_user.address_country = "NL"
    bare_user.save()
    assert claims_for(bare_user, ["address"]) == {"address": {"country": "NL"}}


def test_claims_verified_flags_need_a_value(bare_user):
    bare_user.email_verified = True
    bare_user.phone_number_verified = True
    bare_user.save()
    # A verified flag for a value the user does not have would be meaningless.
    assert claims_for(bare_user, ["email", "phone"]) == {}


def test_claims_preferred_username_falls_back_to_username(bare_user):
    assert claims_for(bare_user, ["profile"])["preferred_username"] == "bob"


def test_claims_sub_is_random_subject_not_an_attribute(full_user, bare_user):
    sub = claims_for(full_user, ["openid"])["sub"]
    assert sub == full_user.subject
    assert uuid.UUID(sub).version == 4
    assert sub not in {str(full_user.pk), full_user.username, full_user.email}
    assert claims_for(bare_user, ["openid"])["sub"] != sub


def test_claims_sub_survives_username_and_email_changes(full_user):
    before = claims_for(full_user, ["openid"])["sub"]
    full_user.username = "alice2"
    full_user.email = "other@example.com"
    full_user.save()
    full_user.refresh_from_db()
    assert claims_for(full_user, ["openid"])["sub"] == before


def test_claims_supported_lists_every_scope_claim(db):
    supported = supported_claims()
    for names in SCOPE_CLAIMS.values():
        assert set(names) <= set(supported)
    assert len(supported) == len(set(supported))
    assert {"iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "at_hash", "jti"} <= set(
        supported
    )


@pytest.mark.parametrize(
    ("claim", "scope"),
    [
        ("email", "email"),
        ("birthdate", "profile"),
        ("address", "address"),
        ("phone_number", "phone"),
        ("x", None),
    ],
)
def test_claims_claim_scope(db, claim, scope):
    assert claim_scope(claim) == scope
