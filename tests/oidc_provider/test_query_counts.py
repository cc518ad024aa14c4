"""The hot endpoints do a small, fixed number of queries, however many clients and tokens exist."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oidc_provider.models import Client
from tests.client_assertions import assertion_params, claims_for, client_key, public_set, signed
from tests.conftest import ISSUER, authorize, basic_auth, exchange


@pytest.fixture
def busy(make_client, signing_keys, logged_in, client):
    """Other clients with live tokens, so a query that scales with the tables would show."""
    for number in range(3):
        other = make_client(name=f"Other {number}")
        assert exchange(client, other, authorize(logged_in, other)).status_code == 200


@pytest.fixture
def machine(make_client, signing_keys):
    return make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])


@pytest.fixture
def tokens(busy, rp, logged_in, client) -> dict:
    return exchange(client, rp, authorize(logged_in, rp)).json()


def test_query_counts_discovery_is_zero_when_warm(client, signing_keys, django_assert_num_queries):
    client.get("/.well-known/openid-configuration")
    with django_assert_num_queries(0):
        response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200


def test_query_counts_jwks_is_zero_when_warm(client, signing_keys, django_assert_num_queries):
    client.get("/o/jwks/")
    with django_assert_num_queries(0):
        response = client.get("/o/jwks/")
    assert response.status_code == 200


# The token endpoint runs in one transaction; inside the test's own transaction that shows as a
# SAVEPOINT and its RELEASE (2 of the counts below), which in production are BEGIN and COMMIT.
TOKEN_TRANSACTION = 2
# The client's request budget: one upsert per request (oidc_provider/rate_limits.py).
RATE_COUNT = 1


def test_query_counts_token_client_credentials(busy, machine, client):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(machine.client_id, machine.client_secret),
        )
    assert response.status_code == 200
    # The client (one indexed SELECT), the budget's upsert and the one INSERT of the token (in no
    # transaction: the next test).
    assert statements(queries) == ["SELECT", "INSERT", "INSERT"]


@pytest.mark.django_db(transaction=True)
def test_query_counts_token_client_credentials_opens_no_transaction(machine, client):
    # A client_credentials token is one INSERT, atomic on its own: no BEGIN and COMMIT round
    # trips around it. Outside the test's transaction, every statement runs in autocommit.
    auth = basic_auth(machine.client_id, machine.client_secret)
    # The first request also fills the process's caches (the identity scopes, the APIs).
    assert (
        client.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth).status_code
        == 200
    )
    in_transaction = []

    def record(execute, sql, params, many, context):
        in_transaction.append((sql.split()[0].upper(), connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert in_transaction == [("SELECT", False), ("INSERT", False), ("INSERT", False)]
    # The token it answered is the one stored.
    introspected = client.post(
        "/o/introspect/",
        {"token": response.json()["access_token"]},
        HTTP_AUTHORIZATION=auth,
    )
    assert introspected.json()["active"] is True


def test_query_counts_token_resource_that_is_no_api_costs_one_lookup(busy, machine, client):
    # RFC 8707 without API scopes: the one resource is looked up once, to see whether it names a
    # registered API (oidc_provider/apis.py), and nothing else is added.
    auth = basic_auth(machine.client_id, machine.client_secret)
    counts = []
    for extra in ({}, {"resource": "https://plain.example.com/"}):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/o/token/", {"grant_type": "client_credentials", **extra}, HTTP_AUTHORIZATION=auth
            )
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[1] == counts[0] + 1


def test_query_counts_token_authorization_code(busy, rp, logged_in, client, django_assert_max_num_queries):
    result = authorize(logged_in, rp)
    # The grant (locked, with its user and client), the ID, access and refresh token INSERTs, and
    # the code marked used, not deleted (RFC 6749 §4.1.2). The client is read on its own as well:
    # its budget is counted before the grant is locked (oidc_provider/rate_limits.py).
    with django_assert_max_num_queries(5 + TOKEN_TRANSACTION + RATE_COUNT + 1):
        response = exchange(client, rp, result)
    assert response.status_code == 200
    assert "id_token" in response.json() and "refresh_token" in response.json()


def test_query_counts_token_refresh(rp, client, tokens, django_assert_max_num_queries):
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    # The client, the locked refresh token, three INSERTs (ID, access and refresh token), and the
    # old refresh token revoked and its access token deleted (RFC 9700 §4.14.2).
    with django_assert_max_num_queries(7 + TOKEN_TRANSACTION + RATE_COUNT):
        response = client.post(
            "/o/token/", data, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret)
        )
    assert response.status_code == 200


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


def selected_columns(sql: str) -> int:
    return sql.split(" FROM ")[0].count(",") + 1


def test_query_counts_userinfo(client, tokens):
    client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert response.status_code == 200
    assert set(response.json()) >= {"sub", "email"}
    # The token with its user and client in one indexed SELECT of the columns UserInfo reads
    # (no column read later with a query of its own), then the budget's upsert; no transaction.
    assert statements(queries) == ["SELECT", "INSERT"]
    assert selected_columns(queries.captured_queries[0]["sql"]) == 37


def test_query_counts_userinfo_with_address_and_phone(busy, rp, logged_in, client, user):
    user.address_locality, user.address_country = "Utrecht", "NL"
    user.phone_number, user.phone_number_verified = "+31 30 123 4567", True
    user.save()
    scope = "openid profile address phone"
    access = exchange(client, rp, authorize(logged_in, rp, scope=scope)).json()["access_token"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}")
    claims = response.json()
    assert claims["address"] == {"locality": "Utrecht", "country": "NL"}
    assert (claims["phone_number"], claims["phone_number_verified"]) == ("+31 30 123 4567", True)
    # The token's row leaves the address and phone columns out: they come in one SELECT of their
    # own, not one per column.
    assert statements(queries) == ["SELECT", "INSERT", "SELECT"]
    assert selected_columns(queries.captured_queries[2]["sql"]) == 8


def test_query_counts_introspection_of_access_token(rp, client, tokens):
    auth = basic_auth(rp.client_id, rp.client_secret)
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=auth)
    assert response.json()["active"] is True
    # The calling client and the token with its user and client in one SELECT (of the token the
    # columns introspection reads, not the user's claims, which UserInfo reads), then the
    # budget's upsert.
    assert statements(queries) == ["SELECT", "INSERT"]
    first, second = queries.captured_queries[0]["sql"].split("(SELECT ")[1:]
    assert (selected_columns(first), selected_columns(second)) == (21, 19)


@pytest.mark.parametrize(("kind", "most"), [("access_token", 1), ("refresh_token", 2)])
def test_query_counts_introspection(kind, most, rp, client, tokens, django_assert_max_num_queries):
    with django_assert_max_num_queries(most + RATE_COUNT):
        response = client.post(
            "/o/introspect/",
            {"token": tokens[kind]},
            HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
        )
    assert response.json()["active"] is True


def test_query_counts_introspection_of_unknown_token(rp, client, tokens, django_assert_max_num_queries):
    # The client with the (missing) access token, then the refresh token.
    with django_assert_max_num_queries(2 + RATE_COUNT):
        response = client.post(
            "/o/introspect/",
            {"token": "unknown"},
            HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
        )
    assert response.json() == {"active": False}


def test_query_counts_machine_requests_read_no_client_column_later(make_client, signing_keys, client):
    # Introspection and client_credentials read 21 of the client's columns; one they use and did
    # not read would be read on its own (SELECT "id", "<column>" ... WHERE "id" = ...).
    key = client_key("ES256")
    jobs = {
        "jwt": make_client(name="JWT job", redirect_uris=[], grant_types=["client_credentials"]),
        "opaque": make_client(
            name="Opaque job",
            redirect_uris=[],
            grant_types=["client_credentials"],
            access_token_format=Client.AccessTokenFormat.OPAQUE,
        ),
        "key": make_client(
            name="Key job",
            redirect_uris=[],
            grant_types=["client_credentials"],
            client_keys={"token_endpoint_auth_method": "private_key_jwt", "jwks": public_set(key)},
        ),
    }
    cc = {"grant_type": "client_credentials"}
    with CaptureQueriesContext(connection) as queries:
        answers = [
            client.post("/o/token/", cc, HTTP_AUTHORIZATION=basic_auth(job.client_id, job.client_secret))
            for job in (jobs["jwt"], jobs["opaque"])
        ]
        answers.append(
            client.post(
                "/o/token/",
                {**cc, "client_id": jobs["opaque"].client_id, "client_secret": jobs["opaque"].client_secret},
                HTTP_ORIGIN="https://rp.example.com",
            )
        )
        assertion = signed(claims_for(jobs["key"].client_id, f"{ISSUER}/o/token/"), key, "ES256")
        answers.append(client.post("/o/token/", {**cc, **assertion_params(assertion)}))
        answers.append(
            client.post(
                "/o/introspect/",
                {"token": answers[1].json()["access_token"]},
                HTTP_AUTHORIZATION=basic_auth(jobs["opaque"].client_id, jobs["opaque"].client_secret),
            )
        )
    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[-1].json()["active"] is True
    later = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT "oidc_provider_client"."id", ')
        and 'WHERE "oidc_provider_client"."id" = ' in query["sql"]
    ]
    assert later == []
