"""The attributes staff define, on the user's profile page and in their data export."""

import json

import pytest

from accounts.export.services import data_export_json
from oidc_provider.services import claim_define
from tests.conftest import authorize

PROFILE = "/accounts/profile/"
# The standard fields as the user fixture has them, so a post changes only the attributes.
STANDARD = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "email": "alice@example.com",
    "phone_number": "+441632960000",
    "address_locality": "Oxford",
    "address_country": "GB",
}


def profile_data(**attributes: str) -> dict:
    return {**STANDARD, **attributes}


@pytest.fixture
def attributes(db):
    claim_define(
        name="pronouns",
        label="Pronouns",
        type="string",
        scope="profile",
        user_editable=True,
        description="e.g. she/her",
    )
    claim_define(name="shoe_size", label="Shoe size", type="integer", scope="profile", user_editable=True)
    claim_define(
        name="newsletter", label="Newsletter", type="boolean", scope="work", scope_description="Work"
    )
    claim_define(name="department", label="Department", type="string", scope="work")


def test_profile_attributes_editable_and_read_only(logged_in, user, attributes):
    user.attributes = {"department": "Research"}
    user.save()
    page = logged_in.get(PROFILE).content.decode()
    assert "More about you" in page and "Pronouns" in page and "e.g. she/her" in page
    department = page.split('name="attribute__department"')[1].split(">")[0]
    assert "disabled" in department and 'value="Research"' in department
    assert "you cannot change it here" in page
    assert "disabled" not in page.split('name="attribute__pronouns"')[1].split(">")[0]


def test_profile_attributes_are_saved_typed_and_read_only_ones_kept(logged_in, user, attributes):
    user.attributes = {"department": "Research"}
    user.save()
    response = logged_in.post(
        PROFILE,
        profile_data(
            attribute__pronouns="she/her",
            attribute__shoe_size="38",
            attribute__department="Forged",
            attribute__newsletter="true",
        ),
        follow=True,
    )
    assert b"Your profile was saved." in response.content
    user.refresh_from_db()
    # Read-only attributes keep their value, whatever is posted.
    assert user.attributes == {"department": "Research", "pronouns": "she/her", "shoe_size": 38}


def test_profile_attributes_are_validated(logged_in, user, attributes):
    response = logged_in.post(PROFILE, profile_data(attribute__shoe_size="large"))
    assert response.status_code == 200
    assert "Enter a whole number." in response.content.decode()
    user.refresh_from_db()
    assert user.attributes == {}


def test_profile_attributes_emptied_are_removed(logged_in, user, attributes):
    user.attributes = {"pronouns": "they/them", "shoe_size": 40}
    user.save()
    logged_in.post(PROFILE, profile_data(attribute__pronouns="", attribute__shoe_size=""))
    user.refresh_from_db()
    assert user.attributes == {}


def test_profile_attributes_say_which_apps_see_them(logged_in, user, attributes, rp):
    authorize(logged_in, rp, scope="openid profile")
    page = logged_in.get(PROFILE).content.decode()
    pronouns = page.split('name="attribute__pronouns"')[1].split("</p>")[0]
    department = page.split('name="attribute__department"')[1].split("</p>")[0]
    assert "Seen by: Test app" in pronouns
    # Released by the work scope, which the app was not allowed.
    assert "No app can see this" in department


def test_profile_attributes_allowed_by_name_are_seen_by_that_app(logged_in, user, attributes, rp):
    authorize(logged_in, rp, scope="openid", claims=json.dumps({"userinfo": {"department": None}}))
    page = logged_in.get(PROFILE).content.decode()
    assert "Seen by: Test app" in page.split('name="attribute__department"')[1].split("</p>")[0]


def test_profile_attributes_are_in_the_data_export(user, attributes):
    user.attributes = {"department": "Research", "retired_claim": "kept"}
    user.save()
    document = json.loads(data_export_json(user=user))
    assert document["profile"]["attributes"] == {"department": "Research", "retired_claim": "kept"}


def test_profile_attributes_allowed_by_name_are_in_the_data_export(logged_in, user, attributes, rp):
    authorize(logged_in, rp, scope="openid", claims=json.dumps({"userinfo": {"department": None}}))
    (consent,) = json.loads(data_export_json(user=user))["consents"]
    assert consent["scopes"] == ["openid"]
    assert consent["claims"] == [{"claim": "department", "in_plain_words": "Department"}]


def test_profile_attributes_are_their_own_section_saving_only_them(logged_in, user, attributes):
    user.attributes = {"department": "Research"}
    user.nickname = "Al"
    user.save()
    page = logged_in.get(PROFILE).content.decode()
    more = page.split('id="section-more"')[1].split("</form>")[0]
    assert 'name="section" value="more"' in more and 'name="attribute__pronouns"' in more
    response = logged_in.post(
        PROFILE, {"section": "more", "attribute__pronouns": "they/them", "nickname": "X"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#section-more")
    user.refresh_from_db()
    assert user.attributes == {"department": "Research", "pronouns": "they/them"}
    assert user.nickname == "Al"
    # Another section's Save leaves the attributes as they are.
    logged_in.post(PROFILE, {"section": "name", "first_name": "Alicia", "last_name": "Liddell"})
    user.refresh_from_db()
    assert user.first_name == "Alicia" and user.attributes == {
        "department": "Research",
        "pronouns": "they/them",
    }
