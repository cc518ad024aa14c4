"""PreparedInsert.insert: a row given column by column, as Model.save() would have written it."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ground.prepared_queries import PreparedInsert
from oidc_provider.models import AccessToken

FIXED: dict[str, object] = {
    "user_id": None,
    "id_token_id": None,
    "source_refresh_token_id": None,
    "act": None,
    "claims": {},
}


def values(application_id: int, **changed) -> dict:
    now = timezone.now()
    return {
        "token": "",
        "token_checksum": uuid.uuid4().hex * 2,
        "application_id": application_id,
        "expires": now + timedelta(hours=1),
        "scope": "read",
        "resource": ["https://api.example.com/"],
        "created": now,
        "updated": now,
        "token_family": uuid.uuid4(),
        "auth_time": None,
        "amr": [],
        "acr": "",
        "session_id": "",
        **changed,
    }


@pytest.mark.django_db
def test_inserted_row_reads_back_as_given(make_client):
    application = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"]).model
    given = values(application.pk, amr=["pwd"], acr="urn:example:loa:2", session_id="s1")
    insert = PreparedInsert(AccessToken, fixed=FIXED)
    pk = insert.insert(given)
    row = AccessToken.objects.get(pk=pk)
    for name, value in {**FIXED, **given}.items():
        assert getattr(row, name) == value, name
    # The fixed columns' values are prepared once and serve every row.
    second = insert.insert(values(application.pk))
    assert AccessToken.objects.get(pk=second).claims == {}


@pytest.mark.django_db
def test_insert_refuses_a_row_without_every_column(make_client):
    application = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"]).model
    partial = values(application.pk)
    del partial["acr"]
    with pytest.raises(ValueError, match="every column"):
        PreparedInsert(AccessToken, fixed=FIXED).insert(partial)
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_insert_refuses_to_fix_a_column_the_table_lacks(make_client):
    application = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"]).model
    with pytest.raises(ValueError, match="no column"):
        PreparedInsert(AccessToken, fixed={**FIXED, "colour": "red"}).insert(values(application.pk))
