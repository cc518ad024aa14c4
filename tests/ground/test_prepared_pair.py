"""Two lookups in one statement (ground/prepared_queries.PreparedPair) find what each finds alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ground.checksums import token_checksum
from ground.prepared_queries import PreparedLookup, PreparedPair
from oidc_provider.models import AccessToken, Client
from oidc_provider.tokens import INTROSPECTED_ACCESS_TOKEN
from tests.conftest import authorize, exchange

CLIENT_BY_CLIENT_ID = PreparedLookup(
    Client,
    lambda client_id: Client.objects.only("client_id", "name", "grant_types").filter(client_id=client_id),
)
CLIENT_WITH_TOKEN = PreparedPair(CLIENT_BY_CLIENT_ID, INTROSPECTED_ACCESS_TOKEN)


def loaded_state(obj):
    """What a row object holds: its loaded columns, and its select_related objects' in turn."""
    state = {name: value for name, value in vars(obj).items() if name != "_state"}
    cached = obj._state.fields_cache
    return state, {name: loaded_state(related) for name, related in cached.items() if related is not None}


@pytest.fixture
def issued(rp, logged_in, client):
    """The checksum of an access token issued to ``rp`` for the signed-in user."""
    return token_checksum(exchange(client, rp, authorize(logged_in, rp)).json()["access_token"])


def test_pair_finds_both_rows_as_each_lookup_does(rp, make_client, issued):
    caller = make_client(name="Resource server")
    with CaptureQueriesContext(connection) as queries:
        found = CLIENT_WITH_TOKEN.find(caller.client_id, issued)
    assert len(queries) == 1
    assert found is not None
    client, token = found
    assert client.pk == caller.model.pk
    assert token is not None
    stored = AccessToken.objects.select_related("user").get(token_checksum=issued)
    assert (token.application.client_id, token.user.username) == (rp.client_id, stored.user.username)
    # The same objects, column for column (time zones, JSON, the related rows), as alone.
    assert loaded_state(client) == loaded_state(CLIENT_BY_CLIENT_ID.first(caller.client_id))
    assert loaded_state(token) == loaded_state(INTROSPECTED_ACCESS_TOKEN.first(issued))
    assert token.expires.tzinfo is not None
    # Columns neither lookup selected are still read when used, as with any deferred field.
    assert token.token_family is not None


def test_pair_without_the_second_row_gives_none_beside_the_first(rp, issued):
    found = CLIENT_WITH_TOKEN.find(rp.client_id, token_checksum("no such token"))
    assert found is not None
    client, token = found
    assert (client.pk, token) == (rp.model.pk, None)
    assert AccessToken.objects.filter(token_checksum=issued).exists()


def test_pair_without_the_first_row_is_none(issued):
    assert CLIENT_WITH_TOKEN.find("no such client", issued) is None
