"""Probes: /healthz answers without the database, /readyz says whether this node can serve."""

import pytest
from django.db import connection

from oidc_provider.models import SigningKey


def test_healthz_answers_ok_without_touching_the_database(client):
    # No django_db mark: any query would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_with_database_migrations_and_an_active_key(client, signing_keys):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": True, "migrations": True, "signing_key": True},
    }


@pytest.mark.django_db
def test_readyz_is_unavailable_without_an_active_signing_key(client):
    SigningKey.objects.all().delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["signing_key"] is False
    assert body["checks"]["database"] is True


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_key_cannot_be_decrypted(client, signing_keys, settings):
    from oidc_provider import keys

    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "KEY_ENCRYPTION_KEY": "a-different-key-encryption-key",
        "KEY_ENCRYPTION_KEY_FALLBACKS": [],
    }
    keys.clear_cache()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["signing_key"] is False


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_while_a_migration_is_pending(client, signing_keys):
    from django.db.migrations.recorder import MigrationRecorder

    from ops import health

    health._migrations_applied = False
    recorder = MigrationRecorder(connection)
    newest = recorder.migration_qs.filter(app="oidc_provider").order_by("-id").first()
    newest.delete()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["migrations"] is False
    finally:
        recorder.record_applied(newest.app, newest.name)
        health._migrations_applied = False
    assert client.get("/readyz").json()["checks"]["migrations"] is True


@pytest.fixture
def dead_redis(settings) -> None:
    """Point the cache at a Redis that does not answer (nothing listens on the port)."""
    from tests.cluster import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHE_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


@pytest.mark.django_db
def test_readyz_checks_the_shared_cache_when_there_is_one(client, signing_keys, settings, redis_url):
    settings.CACHE_URL = redis_url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] is True


@pytest.mark.django_db
def test_readyz_is_unavailable_while_the_shared_cache_is_down(client, signing_keys, dead_redis):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": True,
        "cache": False,
        "migrations": True,
        "signing_key": True,
    }
