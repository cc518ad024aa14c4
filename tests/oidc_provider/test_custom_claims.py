"""Claims staff define: their types, scopes and places, through the real flow, the admin and the commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from oidc_provider.apis import api_save, client_scopes_change
from oidc_provider.models import Api, ClaimDefinition, IdentityScope
from oidc_provider.services import claim_define
from tests.conftest import authorize, exchange, validate_id_token
from tests.tokens import claims_of

USERINFO = "/o/userinfo/"
DISCOVERY = "/.well-known/openid-configuration"
NAMESPACED = "https://example.com/claims/clearance"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def tokens(browser, rp, http, *, scope: str, **extra) -> dict:
    response = exchange(http, rp, authorize(browser, rp, scope=scope, **extra))
    assert response.status_code == 200, response.content
    return response.json()


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def employment(db):
    """An identity scope with a claim of every type; all in UserInfo, two in the ID token too."""
    scope = "employment"
    claim_define(
        name="department",
        label="Department",
        type="string",
        scope=scope,
        scope_description="Your department and role at work",
        in_id_token=True,
    )
    claim_define(
        name="employee_number", label="Employee number", type="integer", scope=scope, in_id_token=True
    )
    claim_define(name="contractor", label="Contractor", type="boolean", scope=scope)
    claim_define(name="start_date", label="Start date", type="date", scope=scope)
    claim_define(name="teams", label="Teams", type="string_list", scope=scope, user_editable=True)
    claim_define(name=NAMESPACED, label="Clearance", type="string", scope=scope)
    return scope


@pytest.fixture
def employee(user, employment):
    user.attributes = {
        "department": "Research",
        "employee_number": 1852,
        "contractor": False,
        "start_date": "2024-01-15",
        "teams": ["Looking glass", "Wonderland"],
        NAMESPACED: "secret",
    }
    user.save()
    return user


def test_custom_claims_round_trip_as_their_json_types(logged_in, rp, client, employee):
    body = tokens(logged_in, rp, client, scope="openid employment")
    info = client.get(USERINFO, **bearer(body["access_token"])).json()
    assert info == {
        "sub": employee.subject,
        "department": "Research",
        "employee_number": 1852,
        "contractor": False,
        "start_date": "2024-01-15",
        "teams": ["Looking glass", "Wonderland"],
        NAMESPACED: "secret",
    }
    id_claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    # Only the two defined for the ID token go there.
    assert id_claims["department"] == "Research" and id_claims["employee_number"] == 1852
    assert not {"contractor", "start_date", "teams", NAMESPACED} & set(id_claims)


def test_custom_claims_need_their_scope(logged_in, rp, client, employee):
    body = tokens(logged_in, rp, client, scope="openid profile")
    assert client.get(USERINFO, **bearer(body["access_token"])).json().get("department") is None
    assert "department" not in claims_of(body["id_token"])


def test_custom_claims_with_a_standard_scope(logged_in, rp, client, user):
    claim_define(name="pronouns", label="Pronouns", type="string", scope="profile", user_editable=True)
    user.attributes = {"pronouns": "she/her"}
    user.save()
    body = tokens(logged_in, rp, client, scope="openid profile")
    assert client.get(USERINFO, **bearer(body["access_token"])).json()["pronouns"] == "she/her"


def test_custom_claims_without_a_value_are_omitted(logged_in, rp, client, user, employment):
    user.attributes = {"department": "", "teams": [], "employee_number": None}
    user.save()
    info = client.get(
        USERINFO, **bearer(tokens(logged_in, rp, client, scope="openid employment")["access_token"])
    )
    assert info.json() == {"sub": user.subject}


def test_custom_claims_value_of_another_type_is_never_released(logged_in, rp, client, user, employment):
    # Values stored before staff changed a claim's type are not passed off as the new type.
    user.attributes = {"employee_number": "1852", "contractor": 1, "start_date": "15/01/2024", "teams": "x"}
    user.save()
    info = client.get(
        USERINFO, **bearer(tokens(logged_in, rp, client, scope="openid employment")["access_token"])
    )
    assert info.json() == {"sub": user.subject}


def test_custom_claims_removed_definition_is_no_longer_released(logged_in, rp, client, employee):
    ClaimDefinition.objects.filter(name="department").delete()
    info = client.get(
        USERINFO, **bearer(tokens(logged_in, rp, client, scope="openid employment")["access_token"])
    )
    assert "department" not in info.json()
    employee.refresh_from_db()
    # The value stays with the user (their data export shows it), released to no app.
    assert employee.attributes["department"] == "Research"


def test_custom_claims_requested_by_name_with_the_claims_parameter(logged_in, rp, client, employee):
    claims = json.dumps({"id_token": {"teams": None}, "userinfo": {NAMESPACED: None}})
    page = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid",
            "nonce": "n",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "claims": claims,
        },
    )
    text = page.content.decode()
    # Each asked for by its label.
    assert 'data-claim="teams"' in text and ">Teams<" in text and ">Clearance<" in text
    body = tokens(logged_in, rp, client, scope="openid", claims=claims)
    assert claims_of(body["id_token"])["teams"] == ["Looking glass", "Wonderland"]
    info = client.get(USERINFO, **bearer(body["access_token"])).json()
    assert info == {"sub": employee.subject, NAMESPACED: "secret"}


# --- the identity scope: discovery, consent page, who may ask -----------------------------------


def test_custom_claims_and_scopes_are_in_discovery(client, signing_keys, employment):
    document = client.get(DISCOVERY).json()
    assert "employment" in document["scopes_supported"]
    assert {"department", "teams", NAMESPACED} <= set(document["claims_supported"])


def test_custom_claims_discovery_follows_a_change(client, signing_keys, employment):
    assert "shoe_size" not in client.get(DISCOVERY).json()["claims_supported"]
    claim_define(name="shoe_size", label="Shoe size", type="integer", scope="employment")
    assert "shoe_size" in client.get(DISCOVERY).json()["claims_supported"]
    IdentityScope.objects.create(name="library", description="Your library card")
    assert "library" in client.get(DISCOVERY).json()["scopes_supported"]


def test_custom_claims_consent_page_describes_the_identity_scope(logged_in, rp, employment):
    authorize_page = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid employment",
            "nonce": "n",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert authorize_page.status_code == 200
    assert "Your department and role at work" in authorize_page.content.decode()


def test_custom_claims_unknown_scope_is_invalid_scope(logged_in, rp):
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid payroll",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302 and "error=invalid_scope" in response["Location"]


def test_custom_claims_identity_scope_is_no_client_credentials_scope(make_client, client, employment):
    machine = make_client(grant_types=["client_credentials"], redirect_uris=())
    response = client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "scope": "employment",
            "client_id": machine.client_id,
            "client_secret": machine.client_secret,
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


# --- staff: the admin and the commands -------------------------------------------------------------


@pytest.mark.parametrize("name", ["email", "sub", "acr", "at_hash", "c_hash", "scope", "has space", ""])
def test_custom_claims_names_of_standard_and_protocol_claims_are_refused(db, name):
    with pytest.raises(CommandError):
        run("createclaim", name, "--label", "X", "--scope", "profile")
    assert not ClaimDefinition.objects.exists()


def test_custom_claims_scope_must_exist(db):
    with pytest.raises(CommandError, match="scope"):
        run("createclaim", "department", "--label", "Department", "--scope", "nowhere")


def test_custom_claims_identity_scope_cannot_take_a_builtin_name(db):
    with pytest.raises(CommandError, match="already a scope"):
        run("createclaim", "x", "--label", "X", "--scope", "offline_access", "--scope-description", "Y")


def test_custom_claims_commands_create_and_list(db):
    out = run(
        "createclaim",
        "badge",
        "--label",
        "Badge number",
        "--type",
        "integer",
        "--scope",
        "site",
        "--scope-description",
        "Your site badge",
        "--id-token",
        "--editable",
        "--json",
    )
    assert json.loads(out) == {
        "name": "badge",
        "label": "Badge number",
        "type": "integer",
        "scope": "site",
        "user_editable": True,
        "in_id_token": True,
        "in_userinfo": True,
        "description": "",
    }
    assert IdentityScope.objects.get(name="site").description == "Your site badge"
    listed = json.loads(run("listclaims", "--json"))
    assert [claim["name"] for claim in listed] == ["badge"]
    line = run("listclaims").strip()
    assert line.startswith("badge") and "integer" in line and "id_token,userinfo" in line


def test_custom_claims_admin_refuses_a_standard_name_and_saves_a_good_one(staff, db):
    data = {
        "name": "email",
        "label": "E-mail",
        "description": "",
        "type": "string",
        "scope": "profile",
        "in_userinfo": "on",
    }
    refused = staff.post("/admin/oidc_provider/claimdefinition/add/", data)
    assert refused.status_code == 200 and "standard or protocol claim" in refused.content.decode()
    saved = staff.post("/admin/oidc_provider/claimdefinition/add/", {**data, "name": "desk"})
    assert saved.status_code == 302
    assert ClaimDefinition.objects.get(name="desk").scope == "profile"


def test_custom_claims_admin_user_page_edits_typed_values(staff, user, employment):
    url = f"/admin/accounts/user/{user.pk}/act/attributes_save/"
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Other attributes" in page and "Employee number" in page
    bad = staff.post(url, {"attribute__employee_number": "twelve"}, follow=True)
    assert "Employee number" in " ".join(str(m) for m in bad.context["messages"])
    user.refresh_from_db()
    assert user.attributes == {}
    staff.post(
        url,
        {
            "attribute__employee_number": "42",
            "attribute__contractor": "true",
            "attribute__start_date": "2025-02-03",
            "attribute__teams": "Red\n\nBlue\n",
        },
    )
    user.refresh_from_db()
    assert user.attributes == {
        "employee_number": 42,
        "contractor": True,
        "start_date": "2025-02-03",
        "teams": ["Red", "Blue"],
    }
    event = AuditEvent.objects.filter(action="user.attributes_change").latest("pk")
    # Which attributes changed, never their values.
    assert event.detail["changed"] == ["contractor", "employee_number", "start_date", "teams"]
    assert "42" not in json.dumps(event.detail)


def test_custom_claims_go_into_an_apis_access_tokens_by_name(logged_in, rp, client, employee):
    # Staff name the claims an API's tokens carry (docs/apis.md), their own among them.
    api = api_save(
        api=Api(
            identifier="https://hr.example.com/", name="HR", token_claims=["department", "teams", "email"]
        ),
        scopes={"read:staff": "See staff records"},
        created=True,
    )
    client_scopes_change(client=rp.model, allow=["read:staff"])
    body = tokens(logged_in, rp, client, scope="openid read:staff")
    claims = claims_of(body["access_token"])
    assert claims["aud"] == api.identifier
    assert claims["department"] == "Research"
    assert claims["teams"] == ["Looking glass", "Wonderland"]
    # Only what the API names: not the other attributes, whatever the scopes.
    assert "employee_number" not in claims and NAMESPACED not in claims


def test_custom_claims_an_api_cannot_name_an_undefined_claim(db):
    with pytest.raises(CommandError, match="Unknown claims: shoe_size"):
        run("createapi", "https://hr.example.com/", "--name", "HR", "--claim", "shoe_size")
    assert not Api.objects.exists()
