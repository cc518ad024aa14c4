"""Token exchange (RFC 8693): the Orders API's client calls the Billing API on the user's behalf."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from oidc_provider.apis import api_save, client_exchange_apis_change, client_scopes_change
from oidc_provider.models import Api
from tests.admin_forms import change_client_in_admin
from tests.conftest import ISSUER, RegisteredClient, authorize, basic_auth, exchange
from tests.oauth import introspect, introspection
from tests.tokens import claims_of, verify_access_token

TOKEN = "/o/token/"
JWKS = "/o/jwks/"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/api"
SHIPPING = "https://shipping.example.com/"
LEGACY = "https://legacy.example.com/"


def make_api(identifier: str, name: str, scopes: dict[str, str], **fields) -> Api:
    return api_save(api=Api(identifier=identifier, name=name, **fields), scopes=scopes, created=True)


@pytest.fixture
def orders(db) -> Api:
    return make_api(ORDERS, "Orders", {"read:orders": "See your orders"}, lifetime=600)


@pytest.fixture
def billing(db) -> Api:
    return make_api(
        BILLING,
        "Billing",
        {"read:invoices": "See your invoices", "write:invoices": "Pay your invoices"},
        lifetime=120,
        token_claims=["email"],
    )


@pytest.fixture
def shipping(db) -> Api:
    return make_api(SHIPPING, "Shipping", {"read:shipments": "See your shipments"})


@pytest.fixture
def legacy(db) -> Api:
    """An API whose tokens are opaque: resource servers introspect them."""
    return make_api(LEGACY, "Legacy", {"read:legacy": "See old orders"}, format="opaque")


@pytest.fixture
def apis(orders, billing, shipping, legacy) -> dict[str, Api]:
    return {"orders": orders, "billing": billing, "shipping": shipping, "legacy": legacy}


@pytest.fixture
def shop(make_client, signing_keys, apis) -> RegisteredClient:
    """The web app the user signs in to: it calls the Orders API (and others) with their tokens."""
    registered = make_client(name="Shop")
    client_scopes_change(
        client=registered.model, allow=["read:orders", "read:invoices", "read:legacy", "read:shipments"]
    )
    return registered


@pytest.fixture
def orders_service(make_client, signing_keys, apis) -> RegisteredClient:
    """The Orders API's own client: it may exchange Orders (and Legacy) tokens, and read invoices."""
    registered = make_client(name="Orders API", redirect_uris=[], grant_types=[EXCHANGE])
    client_scopes_change(client=registered.model, allow=["read:invoices"])
    client_exchange_apis_change(client=registered.model, allow=[ORDERS, LEGACY])
    return registered


@pytest.fixture
def jwks(client, signing_keys) -> dict:
    return client.get(JWKS).json()


def user_token(browser, http, app: RegisteredClient, scope: str) -> str:
    """Sign in through ``app`` and return the access token it gets for ``scope``."""
    result = authorize(browser, app, scope=scope)
    assert result.code, result.response["Location"]
    response = exchange(http, app, result)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def token_exchange(http, caller: RegisteredClient, subject_token: str, **extra: str):
    """Ask for a token exchange as ``caller`` (RFC 8693 §2.1), authenticated with HTTP Basic."""
    data = {
        "grant_type": EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN,
        **extra,
    }
    data = {key: value for key, value in data.items() if value is not None}
    return http.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(caller.client_id, caller.client_secret or ""))


def error_of(response) -> str:
    assert response.status_code == 400, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()["error"]


@pytest.fixture
def subject(logged_in, client, shop) -> str:
    """The user's access token for the Orders API, as the shop sent it there."""
    return user_token(logged_in, client, shop, "openid email read:orders")


# --- the exchange ---------------------------------------------------------------------------


def test_exchange_issues_a_billing_token_for_the_same_user_acted_on_by_the_orders_api(
    client, subject, orders_service, jwks, user
):
    response = token_exchange(client, orders_service, subject, resource=BILLING, scope="read:invoices")
    assert response.status_code == 200, response.content
    body = response.json()
    # RFC 8693 §2.2.1: an access token, said to be one, with no refresh or ID token.
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read:invoices"
    assert 0 < body["expires_in"] <= 120
    assert "refresh_token" not in body and "id_token" not in body
    assert response["Cache-Control"] == "no-store"
    claims = verify_access_token(body["access_token"], jwks=jwks, audience=BILLING, issuer=ISSUER)
    first = claims_of(subject)
    assert claims["aud"] == BILLING
    assert claims["sub"] == user.subject == first["sub"]
    assert claims["client_id"] == orders_service.client_id
    # RFC 8693 §4.1: the Orders API acts for the user.
    assert claims["act"] == {"sub": orders_service.client_id}
    assert claims["scope"] == "read:invoices"
    # The sign-in behind the first token, and never a longer life than it.
    assert claims["auth_time"] == first["auth_time"] and claims["amr"] == first["amr"]
    assert claims["exp"] <= first["exp"]
    # Billing's identity claims and settings (lifetime 120 s).
    assert claims["email"] == "alice@example.com"
    assert claims["exp"] - claims["iat"] <= 120


def test_exchanged_token_is_introspectable_with_its_actor_and_revocable(client, subject, orders_service):
    body = token_exchange(client, orders_service, subject, resource=BILLING).json()
    report = introspection(client, orders_service, body["access_token"])
    assert report["active"] is True
    assert report["aud"] == [BILLING]
    assert report["client_id"] == orders_service.client_id
    assert report["scope"] == "read:invoices"
    assert report["act"] == {"sub": orders_service.client_id}
    revoked = client.post(
        "/o/revoke/",
        {"token": body["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(orders_service.client_id, orders_service.client_secret or ""),
    )
    assert revoked.status_code == 200
    assert introspection(client, orders_service, body["access_token"]) == {"active": False}


def test_exchange_without_scope_gets_the_callers_allowance_for_the_api_and_no_identity_scope(
    client, subject, orders_service
):
    body = token_exchange(client, orders_service, subject, resource=BILLING).json()
    assert body["scope"] == "read:invoices"


def test_exchange_accepts_the_api_identifier_as_audience(client, subject, orders_service, jwks):
    body = token_exchange(client, orders_service, subject, audience=BILLING).json()
    assert verify_access_token(body["access_token"], jwks=jwks, audience=BILLING, issuer=ISSUER)


def test_exchange_infers_the_api_from_its_scopes(client, subject, orders_service):
    body = token_exchange(client, orders_service, subject, scope="read:invoices").json()
    assert claims_of(body["access_token"])["aud"] == BILLING


def test_exchange_passes_identity_scopes_the_subject_token_carries(client, subject, orders_service):
    response = token_exchange(
        client, orders_service, subject, resource=BILLING, scope="openid email read:invoices"
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid email read:invoices"


def test_exchange_never_widens_identity_scopes(client, subject, orders_service):
    response = token_exchange(
        client, orders_service, subject, resource=BILLING, scope="profile read:invoices"
    )
    assert error_of(response) == "invalid_scope"
    assert "profile" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("write:invoices", "invalid_scope"),  # Billing's, but not allowed to the caller.
        ("read:shipments", "invalid_scope"),  # Another API's.
        ("read:orders", "invalid_scope"),  # The first API's.
        ("delete:everything", "invalid_scope"),  # No API's.
    ],
)
def test_exchange_refuses_scopes_the_caller_is_not_allowed(client, subject, orders_service, scope, error):
    response = token_exchange(client, orders_service, subject, resource=BILLING, scope=scope)
    assert error_of(response) == error


@pytest.mark.parametrize(
    "target",
    [
        {"resource": "https://nowhere.example.com/"},
        {"audience": "billing"},
        {"resource": SHIPPING},  # Registered, but the caller is allowed none of its scopes.
        {"resource": ORDERS},
        {"resource": BILLING, "audience": SHIPPING},
        {},
    ],
)
def test_exchange_refuses_a_target_the_caller_may_not_have(client, subject, orders_service, target):
    assert error_of(token_exchange(client, orders_service, subject, **target)) == "invalid_target"


def test_exchange_of_an_exchanged_token_nests_the_earlier_actor(
    make_client, client, subject, orders_service, jwks
):
    first = token_exchange(client, orders_service, subject, resource=BILLING).json()["access_token"]
    billing_service = make_client(name="Billing API", redirect_uris=[], grant_types=[EXCHANGE])
    client_scopes_change(client=billing_service.model, allow=["read:shipments"])
    client_exchange_apis_change(client=billing_service.model, allow=[BILLING])
    response = token_exchange(client, billing_service, first, resource=SHIPPING)
    assert response.status_code == 200, response.content
    claims = verify_access_token(response.json()["access_token"], jwks=jwks, audience=SHIPPING, issuer=ISSUER)
    # RFC 8693 §4.1: the current actor outermost, the earlier one nested.
    assert claims["act"] == {"sub": billing_service.client_id, "act": {"sub": orders_service.client_id}}
    assert claims["sub"] == claims_of(subject)["sub"]
    assert introspection(client, billing_service, response.json()["access_token"])["act"] == claims["act"]


def test_exchange_of_an_opaque_subject_token(logged_in, client, shop, orders_service, legacy):
    subject = user_token(logged_in, client, shop, "openid read:legacy")
    assert subject.count(".") != 2  # Legacy's tokens are opaque.
    response = token_exchange(client, orders_service, subject, resource=BILLING)
    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["act"] == {"sub": orders_service.client_id}


def test_exchange_for_an_api_with_opaque_tokens_gives_an_introspectable_one(
    client, subject, orders_service, legacy
):
    client_scopes_change(client=orders_service.model, allow=["read:legacy"])
    response = token_exchange(client, orders_service, subject, resource=LEGACY)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access_token"].count(".") != 2
    assert body["scope"] == "read:legacy"
    report = introspection(client, orders_service, body["access_token"])
    assert report["aud"] == [LEGACY]
    assert report["act"] == {"sub": orders_service.client_id}
    assert report["sub"] == claims_of(subject)["sub"]


def test_exchanged_token_never_outlives_the_subject_token(
    logged_in, client, shop, orders_service, orders, later
):
    orders.lifetime = 60
    orders.save()
    subject = user_token(logged_in, client, shop, "openid read:orders")
    later(45)
    body = token_exchange(client, orders_service, subject, resource=BILLING).json()
    assert body["expires_in"] <= 15
    assert claims_of(body["access_token"])["exp"] <= claims_of(subject)["exp"]
    assert introspection(client, orders_service, body["access_token"])["exp"] <= claims_of(subject)["exp"]


def test_exchange_is_audited_without_the_tokens(client, subject, orders_service, shop, user):
    body = token_exchange(client, orders_service, subject, resource=BILLING).json()
    event = AuditEvent.objects.get(action="token.exchange")
    assert event.actor_label == f"client {orders_service.client_id}"
    assert event.detail["client_id"] == orders_service.client_id
    assert event.detail["subject_client_id"] == shop.client_id
    assert event.detail["from"] == [ORDERS] and event.detail["to"] == [BILLING]
    recorded = json.dumps(event.detail)
    assert subject not in recorded and body["access_token"] not in recorded


def test_token_exchange_is_advertised(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert EXCHANGE in document["grant_types_supported"]


# --- who may exchange ------------------------------------------------------------------------


def test_exchange_is_off_for_a_client_staff_allowed_no_api(make_client, client, subject, apis):
    caller = make_client(name="Nosy", redirect_uris=[], grant_types=[EXCHANGE])
    client_scopes_change(client=caller.model, allow=["read:invoices"])
    response = token_exchange(client, caller, subject, resource=BILLING)
    assert error_of(response) == "unauthorized_client"


def test_exchange_needs_the_grant_type_registered(make_client, client, subject, apis):
    caller = make_client(name="Sync", redirect_uris=[], grant_types=["client_credentials"])
    client_scopes_change(client=caller.model, allow=["read:invoices"])
    client_exchange_apis_change(client=caller.model, allow=[ORDERS])
    assert error_of(token_exchange(client, caller, subject, resource=BILLING)) == "unauthorized_client"


def test_exchange_needs_an_authenticated_client(client, subject, orders_service):
    data = {
        "grant_type": EXCHANGE,
        "client_id": orders_service.client_id,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN,
    }
    response = client.post(TOKEN, data)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    wrong = client.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth(orders_service.client_id, "x" * 40))
    assert wrong.status_code == 401


def test_public_client_cannot_register_for_token_exchange(make_client, db):
    with pytest.raises(ValidationError, match="exchange tokens"):
        make_client(name="SPA", public=True, grant_types=["authorization_code", EXCHANGE])


# --- the subject token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subject_token": None}, "subject_token is required"),
        ({"subject_token_type": None}, "subject_token_type is required"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}, "Only access tokens"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "Only access tokens"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "Only access tokens"),
        ({"actor_token": "x", "actor_token_type": ACCESS_TOKEN}, "actor_token"),
        ({"subject_token": "not-a-token"}, "not an active access token"),
    ],
)
def test_exchange_refuses_unsupported_or_missing_parameters(client, subject, orders_service, change, message):
    data = {"subject_token": subject, "resource": BILLING, **change}
    response = token_exchange(client, orders_service, **data)
    assert error_of(response) == "invalid_request"
    assert message in response.json()["error_description"]


def test_exchange_accepts_requested_token_type_access_token(client, subject, orders_service):
    response = token_exchange(
        client, orders_service, subject, resource=BILLING, requested_token_type=ACCESS_TOKEN
    )
    assert response.status_code == 200, response.content


def test_exchange_refuses_a_revoked_subject_token(client, subject, shop, orders_service):
    revoked = client.post(
        "/o/revoke/",
        {"token": subject},
        HTTP_AUTHORIZATION=basic_auth(shop.client_id, shop.client_secret or ""),
    )
    assert revoked.status_code == 200
    assert error_of(token_exchange(client, orders_service, subject, resource=BILLING)) == "invalid_request"


def test_exchange_refuses_an_expired_subject_token(client, subject, orders_service, later):
    later(601)
    assert error_of(token_exchange(client, orders_service, subject, resource=BILLING)) == "invalid_request"


def test_exchange_refuses_a_deactivated_users_token(client, subject, orders_service, user):
    # Deactivation revokes tokens; a token that raced it is dead all the same (token_usable).
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert error_of(token_exchange(client, orders_service, subject, resource=BILLING)) == "invalid_request"


def test_exchange_refuses_a_token_for_an_api_the_caller_may_not_exchange_from(
    logged_in, client, shop, orders_service
):
    other = user_token(logged_in, client, shop, "openid read:shipments")
    response = token_exchange(client, orders_service, other, resource=BILLING)
    assert error_of(response) == "invalid_request"
    # A token with no API as its audience is refused too.
    plain = user_token(logged_in, client, shop, "openid email")
    assert error_of(token_exchange(client, orders_service, plain, resource=BILLING)) == "invalid_request"


def test_exchange_refuses_a_token_without_a_user(make_client, client, orders_service, apis):
    machine = make_client(name="Sync", redirect_uris=[], grant_types=["client_credentials"])
    client_scopes_change(client=machine.model, allow=["read:orders"])
    issued = client.post(
        TOKEN,
        {"grant_type": "client_credentials", "scope": "read:orders"},
        HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret or ""),
    ).json()["access_token"]
    response = token_exchange(client, orders_service, issued, resource=BILLING)
    assert error_of(response) == "invalid_request"
    assert "no user" in response.json()["error_description"]


# --- combinations: no token ever carries a scope or audience the caller is not allowed ---------

SUBJECTS = [
    "user_orders",
    "user_orders_no_identity",
    "user_legacy_opaque",
    "machine_orders",
    "user_billing",
    "revoked",
    "expired",
]
TARGETS = {
    "resource_billing": {"resource": BILLING},
    "audience_billing": {"audience": BILLING},
    "resource_orders": {"resource": ORDERS},
    "resource_shipping": {"resource": SHIPPING},
    "unknown": {"resource": "https://unknown.example.com/"},
    "none": {},
}
SCOPES = [
    None,
    "read:invoices",
    "openid email read:invoices",
    "profile read:invoices",
    "write:invoices",
    "read:orders",
    "read:shipments",
    "openid",
]
# What the Orders API's client is allowed: read:invoices at Billing, and nothing anywhere else.
CALLER_ALLOWED = {"read:invoices"}


def make_subject(
    kind: str, *, browser, http, shop: RegisteredClient, make_client, later
) -> tuple[str, set[str]]:
    """Return a subject token of ``kind`` and the OpenID scopes it carries."""
    if kind == "machine_orders":
        machine = make_client(name="Sync", redirect_uris=[], grant_types=["client_credentials"])
        client_scopes_change(client=machine.model, allow=["read:orders"])
        response = http.post(
            TOKEN,
            {"grant_type": "client_credentials", "scope": "read:orders"},
            HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret or ""),
        )
        return response.json()["access_token"], set()
    scope = {
        "user_orders_no_identity": "read:orders",
        "user_legacy_opaque": "openid email read:legacy",
        "user_billing": "openid email read:invoices",
    }.get(kind, "openid email read:orders")
    token = user_token(browser, http, shop, scope)
    if kind == "revoked":
        http.post(
            "/o/revoke/",
            {"token": token},
            HTTP_AUTHORIZATION=basic_auth(shop.client_id, shop.client_secret or ""),
        )
    if kind == "expired":
        later(601)
    return token, {name for name in scope.split() if ":" not in name}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("kind", SUBJECTS)
def test_exchange_combinations_issue_nothing_the_caller_is_not_allowed(
    logged_in, client, shop, orders_service, make_client, later, kind, target
):
    token, carried = make_subject(
        kind, browser=logged_in, http=client, shop=shop, make_client=make_client, later=later
    )
    subject_ok = kind in {"user_orders", "user_orders_no_identity", "user_legacy_opaque"}
    for scope in SCOPES:
        response = token_exchange(client, orders_service, token, scope=scope, **TARGETS[target])
        asked = set((scope or "").split())
        # The one outcome that may succeed: a live user token for an API the caller may exchange
        # from, Billing as target (named, or inferred from Billing's scopes), and scopes that are
        # the caller's allowance plus identity scopes the subject token carries.
        names_billing = target in {"resource_billing", "audience_billing"} or (
            target == "none" and "read:invoices" in asked
        )
        scopes_ok = asked <= CALLER_ALLOWED | carried
        expected = subject_ok and names_billing and scopes_ok
        if not expected:
            assert error_of(response) in {"invalid_request", "invalid_target", "invalid_scope"}, scope
            continue
        assert response.status_code == 200, (scope, response.content)
        issued = response.json()
        granted = set(issued["scope"].split())
        # Never a scope the caller is not allowed, never a widened identity scope.
        assert granted <= CALLER_ALLOWED | carried, (scope, granted)
        assert granted == (asked or CALLER_ALLOWED)
        report = introspection(client, orders_service, issued["access_token"])
        assert report["active"] is True
        assert report["aud"] == [BILLING]
        assert set(report["scope"].split()) == granted
        assert report["act"] == {"sub": orders_service.client_id}
        if issued["access_token"].count(".") == 2:
            assert claims_of(issued["access_token"])["aud"] == BILLING


# --- staff's controls: commands and the admin ------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_updateclient_allows_and_disallows_exchange_and_showclient_shows_it(make_client, apis):
    service = make_client(name="Orders API", redirect_uris=[], grant_types=[EXCHANGE])
    out = json.loads(
        run(
            "updateclient",
            service.client_id,
            "--allow-exchange-from",
            ORDERS,
            "--allow-exchange-from",
            LEGACY,
            "--json",
        )
    )
    assert out["token_exchange_apis"] == [LEGACY, ORDERS]
    assert out["changed"] == ["token_exchange_apis"]
    assert json.loads(run("showclient", service.client_id, "--json"))["token_exchange_apis"] == [
        LEGACY,
        ORDERS,
    ]
    run("updateclient", service.client_id, "--disallow-exchange-from", LEGACY)
    assert json.loads(run("showclient", service.client_id, "--json"))["token_exchange_apis"] == [ORDERS]
    assert AuditEvent.objects.filter(action="client.change", detail__token_exchange_apis=[ORDERS]).exists()


def test_updateclient_refuses_an_unknown_api(make_client, apis):
    service = make_client(name="Orders API", redirect_uris=[], grant_types=[EXCHANGE])
    with pytest.raises(CommandError, match="No API is registered"):
        run("updateclient", service.client_id, "--allow-exchange-from", "https://nowhere.example.com/")
    assert json.loads(run("showclient", service.client_id, "--json"))["token_exchange_apis"] == []


def test_admin_sets_the_apis_a_client_may_exchange_from(staff, client, subject, make_client, apis):
    service = make_client(name="Orders API", grant_types=["authorization_code", EXCHANGE])
    client_scopes_change(client=service.model, allow=["read:invoices"])
    page = staff.get(f"/admin/oidc_provider/client/{service.model.pk}/change/").content.decode()
    assert 'name="token_exchange_apis"' in page
    assert error_of(token_exchange(client, service, subject, resource=BILLING)) == "unauthorized_client"
    response = change_client_in_admin(staff, service.model, token_exchange_apis=[str(apis["orders"].pk)])
    assert response.status_code == 302, response.content[:2000]
    assert token_exchange(client, service, subject, resource=BILLING).status_code == 200


def test_introspection_of_an_ordinary_token_has_no_actor(client, subject, shop):
    report = introspect(client, shop, subject).json()
    assert report["active"] is True and "act" not in report


def test_exchanged_token_dies_when_the_user_signs_out(logged_in, client, subject, orders_service):
    # The subject token belongs to the sign-in session, and so does what it was exchanged for.
    body = token_exchange(client, orders_service, subject, resource=BILLING).json()
    assert introspection(client, orders_service, body["access_token"])["active"] is True
    logged_in.post("/accounts/logout/")
    assert introspection(client, orders_service, body["access_token"]) == {"active": False}


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "https://billing.example.com/\x00"},
        {"resource": "\x00"},
        {"scope": "read:invoices\x00"},
        {"subject_token_type": ACCESS_TOKEN + "\x00"},
        {"resource": "not a uri", "audience": "[::1"},
    ],
)
def test_malformed_exchange_requests_get_400_not_500(client, subject, orders_service, change):
    response = token_exchange(client, orders_service, subject, **{"resource": BILLING, **change})
    assert response.status_code == 400, response.content
    assert response.json()["error"] in {"invalid_request", "invalid_target"}
