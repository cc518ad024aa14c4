"""Rows built by ``row_object`` are the objects Django's ``Model.from_db`` builds (ground/rows.py)."""

import pytest
from django.db.models import Model
from django.db.models.signals import post_init

from accounts.models import User
from ground.rows import row_object
from oidc_provider.models import AccessToken, Client
from oidc_provider.tokens import access_token_presented
from tests.conftest import authorize, exchange


def django_from_db(model, db, field_names, values):
    # What Django itself builds, without the models' own from_db.
    return Model.from_db.__func__(model, db, field_names, values)


def loaded(model, pk, fields):
    """Return the database row of ``model`` ``pk`` as from_db receives it: attnames and values."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in fields]
    row = model.objects.filter(pk=pk).values_list(*names).get()
    return names, list(row)


def state_of(obj):
    return {name: value for name, value in vars(obj).items() if name != "_state"}


@pytest.fixture
def token(rp, logged_in, client):
    value = exchange(client, rp, authorize(logged_in, rp)).json()["access_token"]
    return access_token_presented(value=value)


@pytest.mark.parametrize("model", [AccessToken, Client, User])
@pytest.mark.parametrize("columns", ["all", "some"])
def test_rows_are_the_objects_django_builds(model, columns, token):
    pk = {AccessToken: token.pk, Client: token.application_id, User: token.user_id}[model]
    concrete = [field.attname for field in model._meta.concrete_fields]
    fields = concrete if columns == "all" else concrete[::2]
    names, values = loaded(model, pk, fields)
    ours = row_object(model, "default", names, values)
    django = django_from_db(model, "default", names, values)
    assert type(ours) is model
    assert state_of(ours) == state_of(django)
    for obj in (ours, django):
        assert (obj._state.adding, obj._state.db) == (False, "default")
    assert ours.get_deferred_fields() == django.get_deferred_fields() == set(concrete) - set(names)
    assert ours == django


def test_rows_a_column_not_selected_loads_when_read(token, django_assert_num_queries):
    # UserInfo's lookup leaves the password out; reading it anyway costs one query, as Django's
    # deferred fields do, and gives the stored value.
    user = token.user
    assert "password" in user.get_deferred_fields()
    with django_assert_num_queries(1):
        password = user.password
    assert password == User.objects.values_list("password", flat=True).get(pk=user.pk)
    assert "password" not in user.get_deferred_fields()


def test_rows_foreign_keys_and_cached_objects_behave(token):
    # The joined user and client are cached on the token; assigning another key drops the cache.
    assert token.user.pk == token.user_id
    assert token.application.pk == token.application_id
    other = User.objects.create_user(username="other", password="x")
    token.user_id = other.pk
    assert token.user == other


def test_rows_a_saved_row_is_updated_not_inserted(token, django_assert_num_queries):
    user = User.objects.get(pk=token.user_id)
    user.nickname = "Al"
    with django_assert_num_queries(1) as captured:
        user.save(update_fields=["nickname"])
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("UPDATE")
    assert User.objects.get(pk=user.pk).nickname == "Al"


def test_rows_user_subject_stays_immutable(token):
    # User.from_db keeps the loaded subject, which save() refuses to change.
    user = User.objects.get(pk=token.user_id)
    user.subject = "changed"
    with pytest.raises(Exception, match="cannot change"):
        user.save()


def test_rows_post_init_receivers_still_see_every_object(token):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=AccessToken)
    try:
        found = AccessToken.objects.get(pk=token.pk)
    finally:
        post_init.disconnect(receiver, sender=AccessToken)
    assert seen == [found]
