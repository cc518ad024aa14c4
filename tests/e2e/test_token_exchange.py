"""Token exchange (RFC 8693) end to end: an API calls another API on the user's behalf.

Two real resource servers run on their own loopback ports: the Orders API and the Billing API,
small FastAPI apps under uvicorn. The shop (a web app) signs the user in through the provider's
pages and calls the Orders API with the user's token. The Orders API validates it against the
provider's JWKS (pyjwt's ``PyJWKClient``: signature, ``typ`` ``at+jwt``, ``iss``, ``aud``),
exchanges it at the token endpoint for a Billing token with ``requests``, and calls the Billing
API, which validates that token the same way and reads who acts for the user (``act``).
"""

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import jwt as pyjwt
import pytest
import requests
from fastapi import FastAPI, Header, HTTPException

from oidc_provider.apis import api_save, client_exchange_apis_change, client_scopes_change
from oidc_provider.models import Api, Client
from oidc_provider.services import client_create
from tests.e2e.conftest import E2EClient, sign_in_for_tokens
from tests.rp import loopback_socket, origin_of, serve_asgi

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def resource_server_claims(authorization: str | None, *, metadata: dict, audience: str) -> dict:
    """Validate a bearer token as an RFC 9068 §4 resource server does; return its claims (or 401)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "bearer token required")
    token = authorization.removeprefix("Bearer ")
    try:
        # RFC 9068 §4: typ must be at+jwt, so an ID token cannot pass for an access token.
        if pyjwt.get_unverified_header(token).get("typ") != "at+jwt":
            raise HTTPException(401, "not an access token")
        key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
        return pyjwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            issuer=metadata["issuer"],
            options={"require": ["exp", "iat", "sub", "aud", "iss", "client_id", "jti"]},
        )
    except pyjwt.PyJWTError as error:
        raise HTTPException(401, f"invalid token: {type(error).__name__}") from None


def billing_app(metadata: dict) -> FastAPI:
    app = FastAPI()

    @app.get("/invoices")
    def invoices(authorization: str | None = Header(default=None)) -> dict:
        claims = resource_server_claims(authorization, metadata=metadata, audience=BILLING)
        if "read:invoices" not in claims.get("scope", "").split():
            raise HTTPException(403, "read:invoices required")
        return {
            "aud": claims["aud"],
            "sub": claims["sub"],
            "client_id": claims["client_id"],
            "scope": claims["scope"],
            "act": claims.get("act"),
            "email": claims.get("email"),
            "exp": claims["exp"],
        }

    return app


def orders_app(metadata: dict, service: E2EClient, billing_url: str) -> FastAPI:
    app = FastAPI()

    @app.get("/orders")
    def orders(authorization: str | None = Header(default=None)) -> dict:
        claims = resource_server_claims(authorization, metadata=metadata, audience=ORDERS)
        subject_token = (authorization or "").removeprefix("Bearer ")
        # Forwarding the user's token is no use: Billing is not its audience.
        forwarded = requests.get(
            f"{billing_url}/invoices", headers={"Authorization": authorization}, timeout=10
        )
        exchanged = requests.post(
            metadata["token_endpoint"],
            data={
                "grant_type": EXCHANGE,
                "subject_token": subject_token,
                "subject_token_type": ACCESS_TOKEN,
                "resource": BILLING,
                "scope": "read:invoices",
            },
            auth=(service.client_id, service.client_secret or ""),
            timeout=10,
        )
        if exchanged.status_code != 200:
            raise HTTPException(502, f"token exchange failed: {exchanged.text}")
        body = exchanged.json()
        called = requests.get(
            f"{billing_url}/invoices", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
        )
        return {
            "orders_saw": {
                "aud": claims["aud"],
                "sub": claims["sub"],
                "exp": claims["exp"],
                "scope": claims["scope"],
            },
            "forwarded_status": forwarded.status_code,
            "exchange": {key: value for key, value in body.items() if key != "access_token"},
            "billing_status": called.status_code,
            "billing_saw": called.json() if called.status_code == 200 else called.text,
        }

    return app


@dataclass
class Deployment:
    shop: E2EClient
    service: E2EClient
    orders_url: str


@pytest.fixture
def deployment(issuer, metadata, register, user) -> Iterator[Deployment]:
    """The two APIs registered at the provider and served, the shop, and the Orders API's client."""
    api_save(
        api=Api(identifier=ORDERS, name="Orders"), scopes={"read:orders": "See your orders"}, created=True
    )
    api_save(
        api=Api(identifier=BILLING, name="Billing", token_claims=["email"]),
        scopes={"read:invoices": "See your invoices"},
        created=True,
    )
    shop = register("Shop")
    client_scopes_change(client=_client(shop), allow=["read:orders"])
    model, secret = client_create(name="Orders API", redirect_uris=[], grant_types=[EXCHANGE])
    client_scopes_change(client=model, allow=["read:invoices"])
    client_exchange_apis_change(client=model, allow=[ORDERS])
    service = E2EClient(model.client_id, secret, "", "")
    with ExitStack() as stack:
        billing_socket, orders_socket = loopback_socket(), loopback_socket()
        billing_url, orders_url = origin_of(billing_socket), origin_of(orders_socket)
        stack.enter_context(serve_asgi(billing_app(metadata), billing_socket))
        stack.enter_context(serve_asgi(orders_app(metadata, service, billing_url), orders_socket))
        yield Deployment(shop, service, orders_url)


def _client(registered: E2EClient) -> Client:
    return Client.objects.get(client_id=registered.client_id)


def test_orders_api_calls_billing_on_the_users_behalf(browser, metadata, deployment, user):
    tokens = sign_in_for_tokens(
        browser, metadata, deployment.shop, scope="openid email read:orders", resource=ORDERS
    )
    response = requests.get(
        f"{deployment.orders_url}/orders",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    seen = response.json()
    # The Orders API got the user's token for itself.
    assert seen["orders_saw"]["aud"] == ORDERS
    assert seen["orders_saw"]["sub"] == user.subject
    # Billing refuses the user's token for Orders: it is not its audience.
    assert seen["forwarded_status"] == 401
    # RFC 8693 §2.2.1: an access token, said to be one, without refresh or ID token.
    assert seen["exchange"]["issued_token_type"] == ACCESS_TOKEN
    assert seen["exchange"]["token_type"] == "Bearer"
    assert seen["exchange"]["scope"] == "read:invoices"
    assert "refresh_token" not in seen["exchange"] and "id_token" not in seen["exchange"]
    # Billing sees the same user, with the Orders API acting for them (RFC 8693 §4.1).
    assert seen["billing_status"] == 200, seen["billing_saw"]
    billing = seen["billing_saw"]
    assert billing["aud"] == BILLING
    assert billing["sub"] == user.subject
    assert billing["act"] == {"sub": deployment.service.client_id}
    assert billing["client_id"] == deployment.service.client_id
    assert billing["scope"] == "read:invoices"
    assert billing["email"] == "alice@example.com"
    assert billing["exp"] <= seen["orders_saw"]["exp"]


def test_orders_api_without_the_allowance_cannot_exchange(browser, metadata, deployment, user):
    client_exchange_apis_change(client=_client(deployment.service), disallow=[ORDERS])
    tokens = sign_in_for_tokens(
        browser, metadata, deployment.shop, scope="openid email read:orders", resource=ORDERS
    )
    response = requests.get(
        f"{deployment.orders_url}/orders",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=30,
    )
    assert response.status_code == 502
    assert "unauthorized_client" in response.json()["detail"]
