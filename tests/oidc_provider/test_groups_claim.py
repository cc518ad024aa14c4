"""The groups scope and claim: the names of the user's groups, for apps staff allowed them."""

from django.contrib.auth.models import Group

from tests.admin_forms import change_client_in_admin
from tests.conftest import authorize, exchange, query_of, validate_id_token


def member_of(user, *names: str) -> None:
    for name in names:
        user.groups.add(Group.objects.create(name=name))


def test_groups_claim_reaches_an_allowed_client_in_id_token_and_userinfo(
    logged_in, client, make_client, user, signing_keys
):
    member_of(user, "staff", "finance")
    rp = make_client(name="Payroll", release_groups=True)
    result = authorize(logged_in, rp, scope="openid groups")
    body = exchange(client, rp, result).json()
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert claims["groups"] == ["finance", "staff"]
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").json()
    assert userinfo["groups"] == ["finance", "staff"]


def test_groups_claim_is_an_empty_list_for_a_user_in_no_group(logged_in, client, make_client, signing_keys):
    rp = make_client(name="Payroll", release_groups=True)
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid groups")).json()
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").json()
    assert userinfo["groups"] == []


def test_groups_are_not_released_without_the_scope(logged_in, client, make_client, user, signing_keys):
    member_of(user, "staff")
    rp = make_client(name="Payroll", release_groups=True)
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid profile")).json()
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    assert "groups" not in claims


def test_groups_scope_is_refused_to_a_client_staff_did_not_allow(logged_in, rp, user):
    member_of(user, "staff")
    result = authorize(logged_in, rp, scope="openid groups")
    # RFC 6749 §4.1.2.1: a scope the client may not have is invalid_scope, sent back to the app.
    assert query_of(result.response["Location"])["error"] == "invalid_scope"
    assert not result.code


def test_groups_scope_is_explained_on_the_consent_page(logged_in, make_client):
    rp = make_client(name="Payroll", release_groups=True)
    page = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid groups",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    ).content.decode()
    assert 'data-scope="groups">The names of the groups you belong to<' in page


def test_groups_scope_and_claim_are_in_discovery(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert "groups" in document["scopes_supported"]
    assert "groups" in document["claims_supported"]


def test_groups_staff_allow_them_per_client_in_the_admin(staff, logged_in, client, rp, user, signing_keys):
    member_of(user, "staff")
    response = change_client_in_admin(staff, rp.model, release_groups="on")
    assert response.status_code == 302
    body = exchange(client, rp, authorize(logged_in, rp, scope="openid groups")).json()
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").json()
    assert userinfo["groups"] == ["staff"]
