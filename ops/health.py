"""Liveness and readiness probes for load balancers and orchestrators.

``/healthz`` says the process answers and touches nothing else; ``/readyz`` says this node can
serve: the database answers, every migration the code knows is applied, an active key signs, and
the shared cache answers when there is one (``PORCHLIGHT_CACHE_URL``).
Both are cheap enough to be called every second and are left out of the access log
(gunicorn.conf.py).
"""

import logging

import redis.exceptions
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from oidc_provider import keys

logger = logging.getLogger(__name__)

PROBE_PATHS = ("/healthz", "/readyz")

# Migrations are never unapplied under a running node, so once the plan was empty it stays so;
# the migration graph is then not loaded again on every probe.
_migrations_applied = False


def _database_answers() -> bool:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def _migrations_done() -> bool:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return _migrations_applied


def _can_sign() -> bool:
    algorithms = keys.usable_algorithms()
    if not algorithms:
        return False
    try:
        # The key is decrypted once and kept per worker, so this is a single signature.
        keys.sign({"probe": True}, algorithm=algorithms[0])
    except Exception:  # noqa: BLE001 - a wrong key-encryption key or a broken key row
        logger.warning("readiness: the active %s key cannot sign", algorithms[0])
        return False
    return True


def _cache_answers() -> bool:
    try:
        cache.get("readyz")
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False
    return True


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Say that this process is alive; touches no database."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Say whether this node can serve: database, migrations, signing key, cache; 503 naming what fails."""
    checks = {"database": _database_answers()}
    if settings.CACHE_URL:
        checks["cache"] = _cache_answers()
    try:
        checks["migrations"] = checks["database"] and _migrations_done()
        checks["signing_key"] = checks["database"] and _can_sign()
    except DatabaseError:
        checks.setdefault("migrations", False)
        checks["signing_key"] = False
    ready = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
