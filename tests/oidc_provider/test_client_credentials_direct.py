"""client_credentials answered directly gives what oauthlib's token endpoint gave, field by field.

The token view answers an authenticated client's client_credentials request itself
(oidc_provider/client_credentials.py). While something listens to DOT's ``app_authorized``
signal, which only DOT's own token response sends, the view takes oauthlib's and DOT's path as
before. Each request below is sent both ways and the responses, the stored rows and the JWT
claims are compared.
"""

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db.models.signals import pre_save
from oauth2_provider.signals import app_authorized

from oidc_provider.apis import api_save, client_scopes_change
from oidc_provider.models import AccessToken, Api, Client, IdentityScope
from tests.conftest import RegisteredClient, basic_auth

TOKEN = "/o/token/"
ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/api"
# Differ between any two tokens, however they were made.
PER_TOKEN_COLUMNS = {"id", "token", "token_checksum", "created", "updated", "expires", "token_family"}
PER_TOKEN_CLAIMS = {"jti", "iat", "exp"}


@pytest.fixture
def apis(db) -> None:
    api_save(
        api=Api(identifier=ORDERS, name="Orders"),
        scopes={"read:orders": "See orders", "write:orders": "Place orders"},
        created=True,
    )
    api_save(
        api=Api(identifier=BILLING, name="Billing", lifetime=120, format=Client.AccessTokenFormat.OPAQUE),
        scopes={"read:invoices": "See invoices"},
        created=True,
    )
    IdentityScope.objects.create(name="badge", description="Your badge number")


@pytest.fixture
def machines(make_client, signing_keys, apis) -> dict[str, RegisteredClient]:
    made = {
        "jwt": make_client(name="JWT job", redirect_uris=[], grant_types=["client_credentials"]),
        "opaque": make_client(
            name="Opaque job",
            redirect_uris=[],
            grant_types=["client_credentials"],
            access_token_format=Client.AccessTokenFormat.OPAQUE,
        ),
        "es256": make_client(
            name="ES256 job",
            redirect_uris=[],
            grant_types=["client_credentials"],
            access_token_algorithm="ES256",
        ),
        "web": make_client(name="Web app"),
    }
    for registered in made.values():
        client_scopes_change(client=registered.model, allow=["read:orders", "read:invoices"])
    return made


@contextmanager
def oauthlib_path(on: bool) -> Iterator[list]:
    """While ``on``, a receiver of ``app_authorized`` sends token requests through oauthlib's path;
    yields the tokens it heard (DOT's own answer sends it, the direct one never does)."""
    sent: list = []

    def listener(sender, request, token, **kwargs):
        sent.append(token)

    if on:
        app_authorized.connect(listener)
    try:
        yield sent
    finally:
        app_authorized.disconnect(listener)


def answer(http, registered: RegisteredClient, body: dict, *, through_oauthlib: bool) -> dict:
    """Send one token request; return what the client observes and the row it was given, if any."""
    with oauthlib_path(through_oauthlib) as sent:
        response = http.post(
            TOKEN,
            {"grant_type": "client_credentials", **body},
            HTTP_AUTHORIZATION=basic_auth(registered.client_id, registered.client_secret or ""),
        )
    # The listener hears DOT's own answer, and only that: proof of which path answered.
    assert bool(sent) == (through_oauthlib and response.status_code == 200)
    payload = response.json()
    row, claims = None, None
    if response.status_code == 200:
        value = payload.pop("access_token")
        found = AccessToken.objects.get(token_checksum=_sum(value))
        row = {
            field.attname: getattr(found, field.attname)
            for field in AccessToken._meta.concrete_fields
            if field.attname not in PER_TOKEN_COLUMNS
        }
        # The token column: blank when DOT's RFC 9700 storage setting keeps it out, else the token.
        row["token"] = "(the token)" if found.token == value else found.token
        assert found.token_family is not None
        assert abs((found.expires - found.created).total_seconds() - payload["expires_in"]) < 5
        if value.count(".") == 2:
            header, body_part = (json.loads(_b64(part)) for part in value.split(".")[:2])
            claims = {"header": header, **{k: v for k, v in body_part.items() if k not in PER_TOKEN_CLAIMS}}
        else:
            claims = {"opaque": len(value)}
    headers = {
        name: response.get(name)
        for name in ("Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate", "Retry-After")
    }
    return {"status": response.status_code, "headers": headers, "json": payload, "row": row, "claims": claims}


def _sum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


CASES = [
    ("jwt", {}),
    ("opaque", {}),
    ("es256", {}),
    ("jwt", {"scope": "read:orders"}),
    ("jwt", {"scope": "read:orders", "resource": ORDERS}),
    ("jwt", {"scope": "read:invoices"}),
    ("opaque", {"scope": "read:invoices", "state": "s1"}),
    ("jwt", {"resource": "https://plain.example.com/"}),
    ("jwt", {"resource": BILLING}),
    ("jwt", {"scope": ""}),
    ("jwt", {"scope": "openid"}),
    ("jwt", {"scope": "badge", "state": "xyz"}),
    ("jwt", {"scope": "groups"}),
    ("jwt", {"scope": "write:orders"}),
    ("jwt", {"scope": "no:such"}),
    ("jwt", {"scope": "read:orders read:invoices"}),
    ("jwt", {"scope": "read:orders", "resource": BILLING, "state": "abc"}),
    ("jwt", {"scope": "read:orders", "resource": "https://unknown.example.com/"}),
    ("jwt", {"resource": "not a uri", "state": "s2"}),
    ("opaque", {"resource": "urn:example:thing"}),
    ("jwt", {"resource": ""}),
    ("web", {}),
    ("web", {"scope": "read:orders", "state": "s3"}),
]


@pytest.mark.parametrize(("which", "body"), CASES)
def test_client_credentials_direct_answer_is_oauthlibs(client, machines, which, body):
    registered = machines[which]
    direct = answer(client, registered, body, through_oauthlib=False)
    oauthlib = answer(client, registered, body, through_oauthlib=True)
    assert direct == oauthlib
    assert direct["headers"]["Content-Type"] == "application/json"
    assert direct["headers"]["Cache-Control"] == "no-store"
    assert direct["headers"]["Pragma"] == "no-cache"


def test_client_credentials_direct_row_with_the_token_stored_in_clear_is_oauthlibs(
    client, machines, settings
):
    # DOT's COMPLIANT_BCP_RFC9700_TOKEN_STORAGE off: both paths store the token itself.
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": False}
    for which, body in (("opaque", {}), ("jwt", {"scope": "read:orders", "resource": ORDERS})):
        direct = answer(client, machines[which], body, through_oauthlib=False)
        oauthlib = answer(client, machines[which], body, through_oauthlib=True)
        assert direct == oauthlib
        assert direct["row"]["token"] == "(the token)"


def test_client_credentials_direct_row_is_oauthlibs_and_heard_by_pre_save_receivers(client, machines):
    # With a pre_save receiver for access tokens the direct path saves the row through the model,
    # so the receiver hears each token both ways, and the row is the same.
    heard: list[AccessToken] = []

    def receiver(sender, instance, **kwargs):
        heard.append(instance)

    pre_save.connect(receiver, sender=AccessToken)
    try:
        for which, body in (("opaque", {}), ("jwt", {"scope": "read:invoices"})):
            direct = answer(client, machines[which], body, through_oauthlib=False)
            oauthlib = answer(client, machines[which], body, through_oauthlib=True)
            assert direct == oauthlib
    finally:
        pre_save.disconnect(receiver, sender=AccessToken)
    assert len(heard) == 4
    assert [token.application_id for token in heard] == [
        machines["opaque"].model.pk,
        machines["opaque"].model.pk,
        machines["jwt"].model.pk,
        machines["jwt"].model.pk,
    ]


def test_client_credentials_direct_answer_with_repeated_resources_is_oauthlibs(client, machines):
    # RFC 8707 §2: resource may repeat; both paths see every value.
    registered = machines["jwt"]
    results = []
    for through_oauthlib in (False, True):
        with oauthlib_path(through_oauthlib) as sent:
            response = client.post(
                TOKEN,
                f"grant_type=client_credentials&resource={ORDERS}&resource={BILLING}",
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=basic_auth(registered.client_id, registered.client_secret or ""),
            )
        assert bool(sent) == (through_oauthlib and response.status_code == 200)
        response_answer = (response.status_code, response.json(), response["Cache-Control"])
        if response.status_code == 200:
            row = AccessToken.objects.get(token_checksum=_sum(response.json()["access_token"]))
            response_answer = (response.status_code, row.resource, response.json()["scope"])
        results.append(response_answer)
    assert results[0] == results[1]


def test_client_credentials_wrong_secret_is_refused_as_before(client, machines):
    # A client that did not authenticate never reaches the direct answer: oauthlib refuses it.
    registered = machines["jwt"]
    response = client.post(
        TOKEN,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(registered.client_id, "wrong"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not AccessToken.objects.exists()
