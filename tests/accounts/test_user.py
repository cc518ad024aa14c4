"""The user model: standard claim fields and an immutable, random subject identifier."""

import uuid

import pytest
from django.core.exceptions import ValidationError


def test_user_subject_is_random_and_not_derived(django_user_model, db):
    first = django_user_model.objects.create_user(username="one", email="one@example.com")
    second = django_user_model.objects.create_user(username="two", email="two@example.com")
    for user in (first, second):
        assert str(uuid.UUID(user.subject)) == user.subject
        assert user.subject not in {str(user.pk), user.username, user.email}
    assert first.subject != second.subject


def test_user_subject_cannot_change(django_user_model, db):
    user = django_user_model.objects.create_user(username="one")
    user = django_user_model.objects.get(pk=user.pk)
    user.subject = str(uuid.uuid4())
    with pytest.raises(ValidationError):
        user.save()


def test_user_subject_survives_username_and_email_change(django_user_model, db):
    user = django_user_model.objects.create_user(username="one", email="one@example.com")
    subject = user.subject
    user = django_user_model.objects.get(pk=user.pk)
    user.username, user.email = "renamed", "new@example.com"
    user.save()
    assert django_user_model.objects.get(pk=user.pk).subject == subject


def test_user_updated_at_changes_on_save(django_user_model, db):
    user = django_user_model.objects.create_user(username="one")
    before = user.updated_at
    user = django_user_model.objects.get(pk=user.pk)
    user.nickname = "Uno"
    user.save()
    assert django_user_model.objects.get(pk=user.pk).updated_at > before
