"""APIs with their own scopes and roles, seen from the resource servers that receive the tokens.

An API registered in Porchlight (docs/apis.md) gets access tokens addressed to it: its identifier
is their ``aud``, its scopes their ``scope``, and the identity claims and roles staff chose ride
along. Two kinds of resource server check them here, each through its library's documented path
and against the live provider:

- py-oidc-auth's FastAPI app, configured from discovery with the API as its ``audience``, signs
  the user in and protects routes with ``auth.required(scopes=…)`` and
  ``auth.required(claims={"groups": …})`` (its role check reads ``groups``, ``roles`` and
  Keycloak's ``realm_access``/``resource_access`` alike);
- a service using the ``client_credentials`` grant with ``scope`` and ``resource``, whose token
  another service verifies with PyJWT against the discovered JWKS (``aud``, ``iss``, ``scope``,
  ``typ: at+jwt``).
"""

from collections.abc import Iterator
from contextlib import ExitStack

import jwt as pyjwt
import pytest
import requests
from django.contrib.auth.models import Group
from fastapi import FastAPI
from playwright.sync_api import expect
from py_oidc_auth import FastApiOIDCAuth, IDToken

from oidc_provider.apis import api_save, client_scopes_change, role_save
from oidc_provider.models import Api, Client, GrantType, Role
from tests.conftest import query_of
from tests.e2e.conftest import (
    E2EClient,
    authorization_request,
    chromium_context,
    chromium_sign_in,
    redeem_code,
    sign_in_for_tokens,
)
from tests.rp import loopback_socket, origin_of, serve_asgi
from tests.tokens import claims_of

ITEMS = "https://items.example.test/"


@pytest.fixture
def items_api(issuer, user) -> Api:
    """The Items API: two scopes, groups and email in its tokens, an editor role held through a group."""
    api = api_save(
        api=Api(
            identifier=ITEMS,
            name="Items",
            token_claims=["groups", "email", "preferred_username"],
            keycloak_roles=True,
        ),
        scopes={"read:items": "Read your items", "write:items": "Change your items"},
        roles={"items-editor": "Edits everyone's items"},
        created=True,
    )
    staff = Group.objects.create(name="staff")
    user.groups.add(staff)
    role_save(role=Role.objects.get(api=api, name="items-editor"), add_groups=[staff])
    # A global (realm) role given to the user directly.
    role_save(role=Role(name="employee"), add_users=[user])
    return api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def items_app(auth: FastApiOIDCAuth) -> FastAPI:
    """The Items API's own app, as py-oidc-auth's docs build one: its auth routes and protected routes."""
    app = FastAPI()
    app.include_router(auth.create_auth_router(prefix="/api"))

    @app.get("/items")
    async def items(token: IDToken = auth.required(scopes="read:items")) -> dict:
        return {"sub": token.sub, "items": ["a lamp"]}

    @app.post("/items")
    async def add_item(token: IDToken = auth.required(scopes="write:items")) -> dict:
        return {"added": True}

    @app.get("/staff")
    async def staff(token: IDToken = auth.required(claims={"groups": ["staff"]})) -> dict:
        return {"staff": token.sub}

    @app.get("/admins")
    async def admins(token: IDToken = auth.required(claims={"groups": ["admins"]})) -> dict:
        return {"admins": token.sub}

    @app.get("/edit")
    async def edit(token: IDToken = auth.required(claims={"roles": ["items-editor"]})) -> dict:
        return {"editor": token.sub}

    @app.get("/employees")
    async def employees(token: IDToken = auth.required(claims={"realm_access": ["employee"]})) -> dict:
        return {"employee": token.sub}

    return app


@pytest.fixture
def items_origin(issuer, register, items_api) -> Iterator[tuple[str, E2EClient]]:
    """Serve the Items app, registered as a confidential client allowed the read scope only."""
    with ExitStack() as running:
        sock = loopback_socket()
        origin = origin_of(sock)
        client = register(
            "Items app",
            redirect_uri=f"{origin}/api/auth/v2/callback",
            post_logout_redirect_uri=f"{origin}/logged-out",
        )
        client_scopes_change(client=Client.objects.get(client_id=client.client_id), allow=["read:items"])
        auth = FastApiOIDCAuth(
            client_id=client.client_id,
            client_secret=client.client_secret,
            discovery_url=f"{issuer}/.well-known/openid-configuration",
            scopes="profile email read:items",
            # A resource server checks that the token is addressed to it (RFC 9068 §4).
            audience=ITEMS,
            proxy=origin,
        )
        running.enter_context(serve_asgi(items_app(auth), sock))
        yield origin, client


def test_py_oidc_auth_authorizes_api_routes_by_scope_group_and_role(browser, items_origin, user):
    origin, _client = items_origin
    callback_url = f"{origin}/api/auth/v2/callback"
    location = browser.sign_in(f"{origin}/api/auth/v2/login?redirect_uri={callback_url}")
    callback = browser.session.get(location, timeout=30)
    assert callback.status_code == 200, callback.text
    tokens = callback.json()
    access_token = tokens["access_token"]

    # The token py-oidc-auth received is the API's: its audience, scope, groups and roles.
    claims = claims_of(access_token)
    assert claims["aud"] == ITEMS
    assert "read:items" in claims["scope"].split()
    assert "write:items" not in claims["scope"].split()
    assert claims["groups"] == ["staff"]
    assert claims["email"] == "alice@example.com"
    assert claims["roles"] == ["items-editor"]
    assert claims["resource_access"][ITEMS] == {"roles": ["items-editor"]}
    assert claims["realm_access"] == {"roles": ["employee"]}

    def get(path: str) -> requests.Response:
        return requests.get(f"{origin}{path}", headers=bearer(access_token), timeout=30)

    listed = get("/items")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"sub": user.subject, "items": ["a lamp"]}
    # The app was never allowed write:items, so its token cannot change anything.
    added = requests.post(f"{origin}/items", headers=bearer(access_token), timeout=30)
    assert added.status_code == 403
    assert "write:items" in added.json()["detail"]
    assert get("/staff").status_code == 200
    assert get("/admins").status_code == 401
    assert get("/edit").json() == {"editor": user.subject}
    assert get("/employees").json() == {"employee": user.subject}
    assert requests.get(f"{origin}/items", timeout=30).status_code == 401

    # The app refreshes through its token route; the new token is for the same API and scopes.
    refreshed = requests.post(
        f"{origin}/api/auth/v2/token", data={"refresh-token": tokens["refresh_token"]}, timeout=30
    )
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()["access_token"]
    assert claims_of(renewed)["aud"] == ITEMS
    assert claims_of(renewed)["scope"] == claims["scope"]
    assert requests.get(f"{origin}/items", headers=bearer(renewed), timeout=30).status_code == 200


def test_py_oidc_auth_refuses_a_token_for_another_audience(browser, issuer, metadata, items_origin, register):
    origin, _client = items_origin
    # An ordinary sign-in token for some other app, with no API scope: addressed to that app.
    other = register("Other app")
    tokens = sign_in_for_tokens(browser, metadata, other)
    assert claims_of(tokens["access_token"])["aud"] == other.client_id
    refused = requests.get(f"{origin}/items", headers=bearer(tokens["access_token"]), timeout=30)
    assert refused.status_code == 401


def jwks_verified(issuer: str, metadata: dict, token: str, *, audience: str) -> dict:
    """Verify ``token`` the way a resource server does with PyJWT: keys from the discovered JWKS."""
    keys = pyjwt.PyJWKClient(metadata["jwks_uri"])
    signing_key = keys.get_signing_key_from_jwt(token)
    header = pyjwt.get_unverified_header(token)
    # RFC 9068 §4: an access token is told from an ID token by its typ.
    assert header["typ"] == "at+jwt"
    return pyjwt.decode(
        token,
        key=signing_key.key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]},
    )


def test_client_credentials_service_token_verified_against_jwks(issuer, metadata, register, items_api):
    service = register("Stock service", grant_types=[GrantType.CLIENT_CREDENTIALS])
    client_scopes_change(client=Client.objects.get(client_id=service.client_id), allow=["read:items"])

    def token(**data: str) -> requests.Response:
        return requests.post(
            metadata["token_endpoint"],
            data={"grant_type": "client_credentials", **data},
            auth=(service.client_id, service.client_secret),
            timeout=10,
        )

    issued = token(scope="read:items", resource=ITEMS)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["scope"] == "read:items"
    claims = jwks_verified(issuer, metadata, body["access_token"], audience=ITEMS)
    assert claims["scope"] == "read:items"
    # RFC 9068 §2.2: a token with no end user names the client as its subject.
    assert claims["sub"] == service.client_id
    assert claims["client_id"] == service.client_id
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "groups" not in claims and "email" not in claims
    # Verified for another audience, the same token is refused.
    with pytest.raises(pyjwt.InvalidAudienceError):
        jwks_verified(issuer, metadata, body["access_token"], audience="https://other.example.test/")

    # The scope alone names the API (RFC 8707 §2: the resource is inferred from it).
    inferred = token(scope="read:items")
    assert inferred.status_code == 200, inferred.text
    assert (
        jwks_verified(issuer, metadata, inferred.json()["access_token"], audience=ITEMS)["scope"]
        == "read:items"
    )

    # A scope the service was not allowed is refused, not dropped (RFC 6749 §5.2).
    refused = token(scope="read:items write:items", resource=ITEMS)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    unknown = token(scope="read:items", resource="https://unknown.example.test/")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_target"


def test_chromium_consent_page_lists_api_scopes_under_the_api(issuer, metadata, register, items_api, user):
    app = register("Stock app")
    client_scopes_change(
        client=Client.objects.get(client_id=app.client_id), allow=["read:items", "write:items"]
    )
    request = authorization_request(
        metadata["authorization_endpoint"], app, scope="openid email read:items write:items"
    )
    with chromium_context() as context:
        page = context.new_page()
        page.goto(request.url)
        chromium_sign_in(page)
        expect(page.get_by_role("button", name="Allow")).to_be_visible()
        # OpenID Connect's scopes first, in their own words; the API's under its name.
        shared = [
            item.get_attribute("data-scope")
            for item in page.locator("section:not(.api) > ul.scopes li").all()
        ]
        assert shared == ["openid", "email"]
        api = page.locator(f'section.api[data-api="{ITEMS}"]')
        expect(api.get_by_role("heading", name="Items")).to_be_visible()
        assert api.locator("li").all_inner_texts() == ["Read your items", "Change your items"]
        expect(api.locator("p.api-sees")).to_have_text(
            "Items will see: the names of the groups you belong to, your email address, your username, "
            "your roles (items-editor, employee)."
        )
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{app.redirect_uri}?**")
        callback = query_of(page.url)
    tokens = redeem_code(metadata["token_endpoint"], app, callback["code"], request.verifier)
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == ITEMS
    assert set(claims["scope"].split()) == {"openid", "email", "read:items", "write:items"}
