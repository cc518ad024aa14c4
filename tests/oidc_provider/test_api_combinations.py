"""Every combination of API scopes, resource and grant: no token ever carries a scope the client
was not allowed, or an audience other than the API its scopes belong to.

Two APIs, each with a scope the client may have and one it may not. For each grant (the code
flow, client_credentials, a refresh of a token for the first API) and each resource (none, either
API, an unregistered URI), each set of scopes is asked for. Whatever the provider answers, the
invariants hold, checked on the JWT a resource server validates and on introspection; and the
answer is the one the rules in docs/apis.md give (``expected`` restates them independently).
"""

from itertools import product

import pytest

from oidc_provider.apis import api_save, client_scopes_change
from oidc_provider.models import Api
from tests.conftest import ISSUER, RegisteredClient, authorize, basic_auth, exchange, query_of
from tests.oauth import introspection, refresh
from tests.tokens import verify_access_token

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/"
UNKNOWN = "https://unregistered.example.com/"
OWNER = {"read:orders": ORDERS, "write:orders": ORDERS, "read:invoices": BILLING, "write:invoices": BILLING}
ALLOWED = {"read:orders", "read:invoices"}
OIDC = {"openid", "offline_access"}

SCOPE_SETS = [
    (),
    ("read:orders",),
    ("write:orders",),
    ("read:orders", "write:orders"),
    ("read:invoices",),
    ("read:orders", "read:invoices"),
    ("read:orders", "no:such"),
]
RESOURCES = [None, ORDERS, BILLING, UNKNOWN]
COMBINATIONS = list(product(SCOPE_SETS, RESOURCES))


def expected(api_scopes: tuple[str, ...], resource: str | None) -> str | None:
    """Return the error the rules give for a fresh request (None: a token is issued)."""
    if not api_scopes:
        return None
    # A scope no API defines, or one the client may not have, is refused before anything else.
    if not set(api_scopes) <= ALLOWED:
        return "invalid_scope"
    owners = {OWNER[scope] for scope in api_scopes}
    if resource is not None:
        if resource not in (ORDERS, BILLING):
            return "invalid_target"
        if owners != {resource}:
            return "invalid_scope"
    elif len(owners) > 1:
        return "invalid_scope"
    return None


def expected_refresh(api_scopes: tuple[str, ...], resource: str | None) -> str | None:
    """Return the error for refreshing a token granted openid offline_access read:orders for ORDERS."""
    if not set(api_scopes) <= {"read:orders"}:
        return "invalid_scope"  # RFC 6749 §6: never wider than the original grant.
    if resource not in (None, ORDERS):
        return "invalid_target"  # RFC 8707 §2.2: never another resource.
    return None


@pytest.fixture
def setting(db, make_client, signing_keys):
    for identifier, name, noun in ((ORDERS, "Orders", "orders"), (BILLING, "Billing", "invoices")):
        api_save(
            api=Api(identifier=identifier, name=name),
            scopes={f"read:{noun}": f"See your {noun}", f"write:{noun}": f"Change your {noun}"},
            created=True,
        )
    app = make_client(
        name="Shop",
        skip_consent=True,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )
    client_scopes_change(client=app.model, allow=sorted(ALLOWED))
    return app


def assert_token_within_allowance(http, app: RegisteredClient, body: dict, jwks: dict) -> None:
    """The invariants: allowed scopes only, all of one API, which is the audience, as introspection says."""
    scopes = set(body["scope"].split())
    api_scopes = scopes - OIDC
    assert api_scopes <= ALLOWED
    owners = {OWNER[scope] for scope in api_scopes}
    assert len(owners) <= 1
    report = introspection(http, app, body["access_token"])
    audience = report["aud"][0] if len(report["aud"]) == 1 else report["aud"]
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=audience, issuer=ISSUER)
    assert set(claims["scope"].split()) == scopes == set(report["scope"].split())
    assert claims["aud"] == audience
    if owners:
        assert audience == owners.pop()


@pytest.fixture
def jwks(client, signing_keys) -> dict:
    return client.get("/o/jwks/").json()


def with_resource(resource: str | None) -> dict[str, str]:
    return {"resource": resource} if resource else {}


@pytest.mark.parametrize(("api_scopes", "resource"), COMBINATIONS)
def test_combinations_code_flow(setting, logged_in, client, jwks, api_scopes, resource):
    scope = " ".join(["openid", *api_scopes])
    result = authorize(logged_in, setting, scope=scope, **with_resource(resource))
    error = expected(api_scopes, resource)
    if error:
        assert not result.code
        assert query_of(result.response["Location"])["error"] == error
        return
    response = exchange(client, setting, result)
    assert response.status_code == 200, response.content
    assert_token_within_allowance(client, setting, response.json(), jwks)


@pytest.mark.parametrize(("api_scopes", "resource"), COMBINATIONS)
def test_combinations_client_credentials(setting, client, jwks, api_scopes, resource):
    data = {"grant_type": "client_credentials", **with_resource(resource)}
    if api_scopes:
        data["scope"] = " ".join(api_scopes)
    response = client.post(
        "/o/token/", data, HTTP_AUTHORIZATION=basic_auth(setting.client_id, setting.client_secret)
    )
    error = expected(api_scopes, resource)
    if error:
        assert response.status_code == 400
        assert response.json()["error"] == error
        assert "access_token" not in response.json()
        return
    assert response.status_code == 200, response.content
    assert_token_within_allowance(client, setting, response.json(), jwks)


@pytest.mark.parametrize(("api_scopes", "resource"), COMBINATIONS)
def test_combinations_refresh(setting, logged_in, client, jwks, api_scopes, resource):
    granted = exchange(
        client, setting, authorize(logged_in, setting, scope="openid offline_access read:orders")
    )
    assert granted.status_code == 200, granted.content
    scope = " ".join(["openid", "offline_access", *api_scopes])
    response = refresh(
        client, setting, granted.json()["refresh_token"], scope=scope, **with_resource(resource)
    )
    error = expected_refresh(api_scopes, resource)
    if error:
        assert response.status_code == 400
        assert response.json()["error"] == error
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scope"].split()) == {"openid", "offline_access", *api_scopes}
    assert_token_within_allowance(client, setting, body, jwks)
    # The refreshed token stays with the original API (RFC 8707 §2.2), scopes or no scopes.
    assert introspection(client, setting, body["access_token"])["aud"] == [ORDERS]
