"""APIs (resource servers): their scopes, which clients may have them, and the tokens they get."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from oidc_provider.apis import api_save, client_scopes_change, role_save
from oidc_provider.models import Api, ApiScope, Client, GrantType, Role
from tests.conftest import ISSUER, RegisteredClient, authorize, basic_auth, exchange, query_of
from tests.oauth import introspection, refresh, register
from tests.tokens import claims_of, header_of, verify_access_token

TOKEN = "/o/token/"
JWKS = "/o/jwks/"
ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/api"


def make_api(identifier: str, name: str, scopes: dict[str, str], **fields) -> Api:
    return api_save(api=Api(identifier=identifier, name=name, **fields), scopes=scopes, created=True)


@pytest.fixture
def orders(db) -> Api:
    return make_api(
        ORDERS,
        "Orders",
        {"read:orders": "See your orders", "write:orders": "Place orders for you"},
        token_claims=["email", "preferred_username", "groups"],
    )


@pytest.fixture
def billing(db) -> Api:
    return make_api(BILLING, "Billing", {"read:invoices": "See your invoices"}, lifetime=120)


@pytest.fixture
def app(make_client, signing_keys, orders, billing) -> RegisteredClient:
    """A web app allowed to read orders and invoices, but not to place orders."""
    registered = make_client(name="Shop")
    client_scopes_change(client=registered.model, allow=["read:orders", "read:invoices"])
    return registered


@pytest.fixture
def machine(make_client, signing_keys, orders, billing) -> RegisteredClient:
    registered = make_client(name="Order sync", redirect_uris=[], grant_types=["client_credentials"])
    client_scopes_change(client=registered.model, allow=["read:orders", "read:invoices"])
    return registered


@pytest.fixture
def jwks(client, signing_keys) -> dict:
    return client.get(JWKS).json()


def verified(token: str, jwks: dict, audience: str, algorithm: str = "RS256") -> dict:
    return verify_access_token(token, jwks=jwks, audience=audience, issuer=ISSUER, algorithm=algorithm)


def client_credentials(http, registered: RegisteredClient, **extra: str):
    return http.post(
        TOKEN,
        {"grant_type": "client_credentials", **extra},
        HTTP_AUTHORIZATION=basic_auth(registered.client_id, registered.client_secret or ""),
    )


def code_tokens(browser, http, registered: RegisteredClient, scope: str, **extra: str) -> dict:
    result = authorize(browser, registered, scope=scope, **extra)
    assert result.code, result.response["Location"]
    response = exchange(http, registered, result)
    assert response.status_code == 200, response.content
    return response.json()


def authorize_error(browser, registered: RegisteredClient, scope: str, **extra: str) -> dict[str, str]:
    result = authorize(browser, registered, scope=scope, **extra)
    assert not result.code
    return query_of(result.response["Location"])


# --- the models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    ["orders", "/relative/path", "https://api.example.com/#fragment", "https://user@api.example.com/", ""],
)
def test_api_identifier_must_be_an_absolute_uri_without_fragment(db, identifier):
    with pytest.raises(ValidationError) as raised:
        make_api(identifier, "Orders", {})
    assert "identifier" in raised.value.message_dict
    assert not Api.objects.exists()


@pytest.mark.parametrize(
    "name", ["openid", "email", "groups", "offline_access", "read orders", 'say"hi"', ""]
)
def test_api_scope_name_is_a_scope_token_and_not_an_oidc_scope(db, name):
    with pytest.raises(ValidationError):
        make_api(ORDERS, "Orders", {name: "Something"})
    # Nothing half-written: the API went with its refused scope.
    assert not Api.objects.exists()


def test_api_scope_name_is_unique_across_apis(orders):
    with pytest.raises(ValidationError):
        make_api(BILLING, "Billing", {"read:orders": "Another API's scope"})
    owners = ApiScope.objects.filter(name="read:orders").values_list("api__identifier", flat=True)
    assert list(owners) == [ORDERS]


def test_api_token_claims_are_known_claims(db):
    with pytest.raises(ValidationError) as raised:
        make_api(ORDERS, "Orders", {}, token_claims=["email", "password"])
    assert "password" in str(raised.value)


# --- authorization code flow ----------------------------------------------------------------


def test_code_flow_api_scope_gives_a_token_for_that_api(logged_in, client, app, jwks, user):
    body = code_tokens(logged_in, client, app, "openid read:orders")
    assert header_of(body["access_token"])["typ"] == "at+jwt"
    claims = verified(body["access_token"], jwks, ORDERS)
    # RFC 8707: inferred from the scope, the resource is the API's identifier.
    assert claims["aud"] == ORDERS
    assert claims["scope"].split() == ["openid", "read:orders"]
    assert claims["sub"] == user.subject
    # The identity claims staff chose for the API, whatever the user's OIDC scopes.
    assert claims["email"] == "alice@example.com"
    assert claims["preferred_username"] == "alice"
    assert claims["groups"] == []
    assert "family_name" not in claims
    report = introspection(client, app, body["access_token"])
    assert report["aud"] == [ORDERS]
    assert report["scope"].split() == ["openid", "read:orders"]


def test_code_flow_scope_not_allowed_to_the_client_is_invalid_scope(logged_in, app):
    error = authorize_error(logged_in, app, "openid write:orders")
    assert error["error"] == "invalid_scope"


def test_code_flow_unknown_scope_is_invalid_scope(logged_in, app):
    assert authorize_error(logged_in, app, "openid read:everything")["error"] == "invalid_scope"


def test_code_flow_scopes_of_two_apis_without_resource_is_invalid_scope(logged_in, app):
    error = authorize_error(logged_in, app, "openid read:orders read:invoices")
    assert error["error"] == "invalid_scope"
    assert "more than one API" in error["error_description"]


def test_code_flow_scope_of_another_api_than_the_resource_is_invalid_scope(logged_in, app):
    error = authorize_error(logged_in, app, "openid read:orders", resource=BILLING)
    assert error["error"] == "invalid_scope"


def test_code_flow_api_scope_with_unregistered_resource_is_invalid_target(logged_in, app):
    error = authorize_error(logged_in, app, "openid read:orders", resource="https://elsewhere.example.com/")
    assert error["error"] == "invalid_target"


def test_code_flow_resource_names_the_api_without_api_scopes(logged_in, client, app, jwks):
    body = code_tokens(logged_in, client, app, "openid", resource=BILLING)
    claims = verified(body["access_token"], jwks, BILLING)
    assert claims["scope"] == "openid"
    # Billing's own lifetime, which the response states too (RFC 6749 §5.1).
    assert body["expires_in"] == 120 == claims["exp"] - claims["iat"]
    refreshed = refresh(client, app, body["refresh_token"]).json()
    again = verified(refreshed["access_token"], jwks, BILLING)
    assert refreshed["expires_in"] == 120 == again["exp"] - again["iat"]


def test_code_flow_scope_lost_before_the_exchange_is_not_issued(logged_in, client, app, jwks):
    result = authorize(logged_in, app, scope="openid read:orders")
    client_scopes_change(client=app.model, disallow=["read:orders"])
    body = exchange(client, app, result).json()
    assert body["scope"] == "openid"
    assert verified(body["access_token"], jwks, ORDERS)["scope"] == "openid"


# --- refresh -------------------------------------------------------------------------------


def test_refresh_may_narrow_scopes_and_keeps_the_api(logged_in, client, app, jwks):
    body = code_tokens(logged_in, client, app, "openid offline_access read:orders")
    response = refresh(client, app, body["refresh_token"], scope="openid offline_access")
    assert response.status_code == 200, response.content
    claims = verified(response.json()["access_token"], jwks, ORDERS)
    assert claims["scope"].split() == ["openid", "offline_access"]


def test_refresh_cannot_widen_to_an_api_scope(logged_in, client, app):
    body = code_tokens(logged_in, client, app, "openid offline_access read:orders")
    wider = "openid offline_access read:orders write:orders"
    response = refresh(client, app, body["refresh_token"], scope=wider)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_cannot_move_to_another_resource(logged_in, client, app):
    body = code_tokens(logged_in, client, app, "openid offline_access read:orders")
    response = refresh(client, app, body["refresh_token"], resource=BILLING)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_refresh_drops_a_scope_the_client_lost(logged_in, client, app, jwks):
    body = code_tokens(logged_in, client, app, "openid offline_access read:orders")
    client_scopes_change(client=app.model, disallow=["read:orders"])
    asked = refresh(client, app, body["refresh_token"], scope="openid read:orders")
    assert asked.json()["error"] == "invalid_scope"
    response = refresh(client, app, body["refresh_token"])
    assert response.status_code == 200, response.content
    refreshed = response.json()
    assert refreshed["scope"].split() == ["openid", "offline_access"]
    assert "read:orders" not in verified(refreshed["access_token"], jwks, ORDERS)["scope"].split()
    assert "read:orders" not in introspection(client, app, refreshed["access_token"])["scope"].split()


# --- client credentials -------------------------------------------------------------------


def test_client_credentials_gets_the_allowed_api_scope_it_asks_for(client, machine, jwks):
    response = client_credentials(client, machine, scope="read:invoices")
    assert response.status_code == 200, response.content
    body = response.json()
    claims = verified(body["access_token"], jwks, BILLING)
    assert claims["sub"] == machine.client_id
    assert claims["scope"] == body["scope"] == "read:invoices"
    assert body["expires_in"] == claims["exp"] - claims["iat"] == 120
    assert "email" not in claims and "roles" not in claims
    report = introspection(client, machine, body["access_token"])
    assert report["aud"] == [BILLING] and report["scope"] == "read:invoices"


def test_client_credentials_without_scope_gets_no_scope(client, machine, jwks):
    # RFC 6749 §3.3: the minimum; an API scope must be asked for (docs/apis.md).
    body = client_credentials(client, machine).json()
    claims = verified(body["access_token"], jwks, machine.client_id)
    assert claims["scope"] == ""


def test_client_credentials_with_resource_only_is_for_that_api_without_scopes(client, machine, jwks):
    body = client_credentials(client, machine, resource=ORDERS).json()
    assert verified(body["access_token"], jwks, ORDERS)["scope"] == ""


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"scope": "write:orders"}, "invalid_scope"),
        ({"scope": "read:orders read:invoices"}, "invalid_scope"),
        ({"scope": "read:orders", "resource": BILLING}, "invalid_scope"),
        ({"scope": "read:orders", "resource": "https://unknown.example.com/"}, "invalid_target"),
        ({"scope": "read:nothing"}, "invalid_scope"),
        ({"scope": "openid read:orders"}, "invalid_scope"),
    ],
)
def test_client_credentials_refuses_what_the_client_may_not_have(client, machine, extra, error):
    response = client_credentials(client, machine, **extra)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_api_format_algorithm_and_lifetime_override_the_client(client, machine, jwks, orders):
    orders.algorithm, orders.lifetime = "ES256", 60
    api_save(api=orders)
    body = client_credentials(client, machine, scope="read:orders").json()
    assert header_of(body["access_token"])["alg"] == "ES256"
    claims = verified(body["access_token"], jwks, ORDERS, algorithm="ES256")
    assert body["expires_in"] == 60 == claims["exp"] - claims["iat"]
    orders.format = "opaque"
    api_save(api=orders)
    body = client_credentials(client, machine, scope="read:orders").json()
    assert body["access_token"].count(".") == 0
    report = introspection(client, machine, body["access_token"])
    assert report["aud"] == [ORDERS] and report["scope"] == "read:orders"
    assert report["exp"] - report["iat"] in (59, 60)


def test_api_token_claims_use_the_released_values(logged_in, client, app, jwks, orders, user):
    group = user.groups.create(name="buyers")
    assert group
    body = code_tokens(logged_in, client, app, "openid read:orders")
    assert claims_of(body["access_token"])["groups"] == ["buyers"]


# --- roles ---------------------------------------------------------------------------------


@pytest.fixture
def roles(orders, app, user, django_user_model):
    buyers = Group.objects.create(name="buyers")
    user.groups.add(buyers)
    other = django_user_model.objects.create_user(username="bob", password="x" * 20)
    role_save(role=Role(name="clerk", api=orders), add_users=[user])
    role_save(role=Role(name="buyer", api=orders), add_groups=[buyers])
    role_save(role=Role(name="auditor", api=orders), add_users=[other])
    role_save(role=Role(name="shop-admin", client=app.model), add_users=[user])
    role_save(role=Role(name="staff"), add_groups=[buyers])
    role_save(role=Role(name="contractor"), add_users=[other])
    return orders


def test_roles_in_an_api_token_are_the_users_roles_direct_and_through_groups(
    roles, logged_in, client, app, jwks
):
    body = code_tokens(logged_in, client, app, "openid read:orders")
    claims = verified(body["access_token"], jwks, ORDERS)
    assert claims["roles"] == ["buyer", "clerk"]
    assert "realm_access" not in claims and "resource_access" not in claims


def test_roles_in_keycloak_shape(roles, logged_in, client, app, jwks):
    roles.keycloak_roles = True
    api_save(api=roles)
    claims = verified(code_tokens(logged_in, client, app, "openid read:orders")["access_token"], jwks, ORDERS)
    assert claims["roles"] == ["buyer", "clerk"]
    assert claims["realm_access"] == {"roles": ["staff"]}
    assert claims["resource_access"] == {
        ORDERS: {"roles": ["buyer", "clerk"]},
        app.client_id: {"roles": ["shop-admin"]},
    }


def test_roles_none_in_client_credentials_tokens(roles, client, machine, jwks):
    roles.keycloak_roles = True
    api_save(api=roles)
    body = client_credentials(client, machine, scope="read:orders").json()
    claims = verified(body["access_token"], jwks, ORDERS)
    assert not {"roles", "realm_access", "resource_access"} & set(claims)


def test_role_names_are_unique_per_owner(roles, app):
    with pytest.raises(ValidationError):
        role_save(role=Role(name="clerk", api=roles))
    with pytest.raises(ValidationError):
        role_save(role=Role(name="staff"))
    with pytest.raises(ValidationError):
        role_save(role=Role(name="both", api=roles, client=app.model))
    # The same name under another owner is another role.
    assert role_save(role=Role(name="clerk", client=app.model)).pk


# --- the consent page ---------------------------------------------------------------------


def authorize_get(browser, registered: RegisteredClient, scope: str):
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.redirect_uri,
        "scope": scope,
        "state": "s",
        "nonce": "n",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return browser.get("/o/authorize/", params)


def consent_page(browser, registered: RegisteredClient, scope: str) -> str:
    response = authorize_get(browser, registered, scope)
    assert response.status_code == 200, response.get("Location")
    return response.content.decode()


def test_consent_page_lists_api_scopes_under_the_api_and_what_it_sees(roles, logged_in, app):
    page = consent_page(logged_in, app, "openid email read:orders")
    before_api, api_part = page.split(f'data-api="{ORDERS}"')
    assert "Your email address and whether it is verified" in before_api
    assert "See your orders" not in before_api
    assert "<h2>Orders</h2>" in api_part
    assert 'data-scope="read:orders">See your orders' in api_part
    sees = (
        "your email address, your username, the names of the groups you belong to, your roles (buyer, clerk)"
    )
    assert f"Orders will see: {sees}." in api_part


def test_consent_remembered_covers_api_scopes_and_new_ones_are_asked(logged_in, client, app):
    code_tokens(logged_in, client, app, "openid read:orders")
    # Allowed before: no page, straight to the code.
    remembered = authorize_get(logged_in, app, "openid read:orders")
    assert remembered.status_code == 302 and query_of(remembered["Location"])["code"]
    page = consent_page(logged_in, app, "openid read:invoices")
    assert 'data-scope="read:invoices">See your invoices <strong class="new">(new)</strong>' in page


# --- dynamic registration (RFC 7591 §2 scope) ------------------------------------------------


@pytest.fixture
def registration_policy(settings, orders, billing):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "REGISTRATION_API_SCOPES": ["read:orders"]}


def test_registration_scope_grants_the_api_scopes_the_policy_allows(
    client, signing_keys, initial_token, registration_policy, jwks
):
    response = register(
        client,
        {"client_name": "Sync", "grant_types": ["client_credentials"], "scope": "read:orders"},
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["scope"] == "read:orders"
    machine = RegisteredClient(body["client_id"], body["client_secret"], "", None)
    token = client_credentials(client, machine, scope="read:orders").json()
    assert verified(token["access_token"], jwks, ORDERS)["scope"] == "read:orders"
    refused = client_credentials(client, machine, scope="read:invoices")
    assert refused.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "scope", ["read:invoices", "openid read:orders write:orders", "read:nothing", "openid groups", 42]
)
def test_registration_scope_refuses_what_the_policy_does_not_give(
    client, signing_keys, initial_token, registration_policy, scope
):
    response = register(
        client, {"redirect_uris": ["https://rp.example.com/cb"], "scope": scope}, token=initial_token
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert not Client.objects.exists()


def test_registration_without_policy_gives_no_api_scope(client, signing_keys, initial_token, orders):
    response = register(
        client,
        {"redirect_uris": ["https://rp.example.com/cb"], "scope": "openid read:orders"},
        token=initial_token,
    )
    assert response.status_code == 400
    assert "read:orders" in response.json()["error_description"]


def test_registration_oidc_scopes_are_echoed(client, signing_keys, initial_token):
    response = register(
        client, {"redirect_uris": ["https://rp.example.com/cb"], "scope": "openid email"}, token=initial_token
    )
    assert response.status_code == 201
    assert response.json()["scope"] == "openid email"


def test_connected_apps_page_shows_api_scopes_in_their_words(logged_in, client, app):
    code_tokens(logged_in, client, app, "openid read:orders")
    page = logged_in.get("/account/apps/").content.decode()
    assert "See your orders" in page


# --- the device grant (RFC 8628) -------------------------------------------------------------


@pytest.fixture
def tv(make_client, signing_keys, orders, billing) -> RegisteredClient:
    registered = make_client(
        name="TV", redirect_uris=[], post_logout_redirect_uris=[], grant_types=[GrantType.DEVICE_CODE]
    )
    client_scopes_change(client=registered.model, allow=["read:orders", "read:invoices"])
    return registered


def device_start(http, registered: RegisteredClient, scope: str):
    data = {"client_id": registered.client_id, "client_secret": registered.client_secret, "scope": scope}
    return http.post("/o/device/", data)


@pytest.mark.parametrize("scope", ["openid write:orders", "openid read:orders read:invoices", "read:none"])
def test_device_authorization_refuses_what_the_client_may_not_have(client, tv, scope):
    response = device_start(client, tv, scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_device_grant_token_is_for_the_api_of_its_scopes(client, logged_in, tv, jwks):
    started = device_start(client, tv, "openid read:orders").json()
    entered = logged_in.post("/device/", {"user_code": started["user_code"]})
    question = logged_in.get(entered["Location"])
    assert "See your orders" in question.content.decode()
    logged_in.post("/device/confirm/", {"request": question.context["request_token"], "allow": "1"})
    data = {
        "grant_type": GrantType.DEVICE_CODE,
        "device_code": started["device_code"],
        "client_id": tv.client_id,
        "client_secret": tv.client_secret,
    }
    body = client.post(TOKEN, data).json()
    claims = verified(body["access_token"], jwks, ORDERS)
    assert claims["scope"].split() == ["openid", "read:orders"]
    assert introspection(client, tv, body["access_token"])["aud"] == [ORDERS]
