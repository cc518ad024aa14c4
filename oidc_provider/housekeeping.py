"""Housekeeping: prune what has expired, in batches, and step key rotation; one node at a time.

``housekeeping_run`` is what the scheduled task (``housekeeping``, run by ``manage.py db_worker``)
does; it re-enqueues itself ``HOUSEKEEPING_INTERVAL`` seconds later, so no cron is needed. Every
node's worker may pick a run up: a PostgreSQL advisory lock held for the run makes a second one
skip rather than repeat the work (SQLite has one writer at a time anyway).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from accounts.export.services import data_exports_expire
from accounts.lifecycle.services import accounts_erase_due
from accounts.models import LoginFailure, LoginSession
from accounts.sessions import login_sessions_expire
from accounts.signup.services import signups_expired_delete
from audit.services import audit_purge
from directory.services import directory_accounts_sync
from ground.batches import BATCH_SIZE, batched_delete

from . import rotation
from .client_auth import assertion_uses_ended
from .device import device_grants_expired
from .logout import logout_deliveries_resume
from .models import AccessToken, Grant, IDToken, LogoutDelivery, RefreshToken
from .rate_limits import rate_counts_ended

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key: "PLHK" (rotation uses its own).
LOCK_ID = 0x504C484B


def expired_tokens_purge(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete expired or revoked refresh tokens, expired access and ID tokens and grants."""
    now = timezone.now()
    # Refresh tokens first: they point at the access tokens deleted next. Revoked ones are kept
    # for the idle lifetime, so a reused one is still recognised as theft (RFC 9700 §4.14.2).
    idle = now - timedelta(seconds=settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"])
    refresh = RefreshToken.objects.filter(Q(revoked__lt=idle) | Q(updated__lt=idle))
    return {
        "refresh_tokens": batched_delete(refresh, batch_size=batch_size),
        "access_tokens": batched_delete(
            AccessToken.objects.filter(expires__lt=now, refresh_token__isnull=True), batch_size=batch_size
        ),
        "id_tokens": batched_delete(
            IDToken.objects.filter(expires__lt=now, access_token__isnull=True), batch_size=batch_size
        ),
        "grants": batched_delete(Grant.objects.filter(expires__lt=now), batch_size=batch_size),
        "device_grants": batched_delete(device_grants_expired(), batch_size=batch_size),
    }


def housekeeping_prune(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Prune tokens, grants, device codes, sessions, lockouts, rate counts and old audit events."""
    # First end the sign-in sessions whose time is up, so their apps are told (back-channel
    # logout) and their tokens die, and re-queue deliveries a stopped worker left behind.
    counts = {"sessions_expired": login_sessions_expire(), "logouts_resumed": logout_deliveries_resume()}
    # Deleted accounts whose grace period is over (accounts/lifecycle/services.py).
    counts["accounts_erased"] = accounts_erase_due()
    # Directory accounts read again; those the directory removed or disabled are deactivated
    # (directory/services.py; nothing when directory sign-in is off).
    counts.update(directory_accounts_sync())
    # Sign-ups never confirmed before their link expired: nobody can use them (accounts/signup/).
    counts["signups_expired"] = signups_expired_delete()
    counts.update(expired_tokens_purge(batch_size=batch_size))
    # Ended sign-in sessions and the logout notices sent for them, after the retention period.
    ended = timezone.now() - timedelta(days=settings.PORCHLIGHT["SESSION_RETENTION_DAYS"])
    counts["login_sessions"] = batched_delete(
        LoginSession.objects.filter(ended__lt=ended), batch_size=batch_size
    )
    counts["logout_deliveries"] = batched_delete(
        LogoutDelivery.objects.filter(finished__lt=ended), batch_size=batch_size
    )
    counts["sessions"] = batched_delete(
        Session.objects.filter(expire_date__lt=timezone.now()), batch_size=batch_size
    )
    counts["login_failures"] = batched_delete(
        LoginFailure.objects.filter(expires__lte=timezone.now()), batch_size=batch_size
    )
    counts["client_request_counts"] = batched_delete(rate_counts_ended(), batch_size=batch_size)
    # A client assertion's jti is remembered only while the assertion could be accepted (client_auth.py).
    counts["client_assertion_uses"] = batched_delete(assertion_uses_ended(), batch_size=batch_size)
    counts["audit_events"] = audit_purge(batch_size=batch_size)
    # A copy of someone's data not downloaded in time is deleted, not kept (GDPR Art. 5(1)(e)).
    counts["data_exports_expired"] = data_exports_expire()
    return counts


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_ID])
        return bool(cursor.fetchone()[0])


def _unlock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


def housekeeping_run(*, batch_size: int = BATCH_SIZE) -> dict[str, int] | None:
    """Prune and step key rotation, unless another node is doing it now (then return None)."""
    if not _try_lock():
        return None
    try:
        counts = housekeeping_prune(batch_size=batch_size)
        counts["key_steps"] = len(rotation.keys_rotate())
    finally:
        _unlock()
    logger.info("housekeeping: %s", counts)
    return counts


@task()
def housekeeping() -> dict[str, int] | None:
    """Run housekeeping and enqueue the next run (the scheduled job the worker runs)."""
    try:
        return housekeeping_run()
    finally:
        housekeeping.using(
            run_after=timezone.now() + timedelta(seconds=settings.PORCHLIGHT["HOUSEKEEPING_INTERVAL"])
        ).enqueue()


def housekeeping_schedule() -> bool:
    """Enqueue the first housekeeping run unless one is waiting or running; say whether it did."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Two nodes starting at once must not both enqueue (each run re-enqueues itself).
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID + 1])
        pending = DBTaskResult.objects.filter(
            task_path=housekeeping.module_path,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
        )
        if pending.exists():
            return False
        housekeeping.enqueue()
        return True
