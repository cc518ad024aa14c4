"""The signing key lifecycle: next -> active -> retired -> removed, without downtime.

- A ``next`` key is published in JWKS before it signs anything, for at least the time relying
  parties and workers may cache the key set (``publish_lead``), so no RP meets an unknown kid.
- It becomes ``active`` when the active key has served its ``rotation_period``.
- A ``retired`` key stays published until every token it signed has expired (``retention``),
  so those tokens still verify and an old ``id_token_hint`` is still accepted at logout.

A forced rotation (an emergency: ``rotatekeys --now``, the admin's "rotate now" or "retire")
publishes the new key at once and lets it sign ``propagation()`` later, once every worker on
every node has reloaded the key set; the old key signs until then. So no node ever signs with a
key that another node's JWKS does not list.

``keys_rotate`` takes one step per due transition. It holds a database lock (PostgreSQL
advisory lock; SQLite's immediate transactions are already serialized), so any number of nodes
may run it from cron at once and only one rotation happens. On SQLite, threads of one process
also take a process lock: on a shared-cache database (Django's in-memory test database) a
second ``BEGIN IMMEDIATE`` fails at once with "database table is locked" instead of waiting.
"""

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record

from . import keys
from .models import KEY_ALGORITHMS, SigningKey

LOCK_ID = 0x504C4B59  # "PLKY"
_sqlite_writers = threading.Lock()


@dataclass(frozen=True)
class Step:
    algorithm: str
    action: str  # "created active", "created next", "promoted", "retired", "removed"
    kid: str

    def __str__(self) -> str:
        return f"{self.algorithm}: {self.action} {self.kid}"


# The audit action each step records.
STEP_ACTIONS = {
    "created active": Action.SIGNING_KEY_CREATED_ACTIVE,
    "created next": Action.SIGNING_KEY_CREATED_NEXT,
    "promoted": Action.SIGNING_KEY_PROMOTED,
    "retired": Action.SIGNING_KEY_RETIRED,
    "removed": Action.SIGNING_KEY_REMOVED,
}


def rotation_period() -> timedelta:
    return timedelta(days=settings.PORCHLIGHT["KEY_ROTATION_DAYS"])


def publish_lead() -> timedelta:
    """How long a key is published before it signs: the JWKS HTTP cache plus the worker cache."""
    return timedelta(
        seconds=settings.PORCHLIGHT["JWKS_MAX_AGE"] + settings.PORCHLIGHT["METADATA_CACHE_SECONDS"]
    )


def retention() -> timedelta:
    """How long a retired key stays published: until every token it signed has expired."""
    longest = max(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS, oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
    return timedelta(seconds=longest) + publish_lead()


def _process_lock() -> AbstractContextManager[object]:
    return _sqlite_writers if connection.vendor == "sqlite" else nullcontext()


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])


def _create(algorithm: str, state: str, now: datetime) -> SigningKey:
    row = keys.signing_key_create(algorithm=algorithm, state=state)
    row.created, row.activated_at = now, now if state == SigningKey.State.ACTIVE else None
    # The caller's "now", not the wall clock: a next key made here must wait out the publish lead.
    SigningKey.objects.filter(pk=row.pk).update(created=row.created, activated_at=row.activated_at)
    return row


def propagation() -> timedelta:
    """How long a new key is published before it signs after a forced rotation.

    Every worker reloads the key set within ``METADATA_CACHE_SECONDS``; the setting adds a margin
    for the reload's own query and clock differences between nodes.
    """
    return timedelta(seconds=settings.PORCHLIGHT["KEY_PROPAGATION_SECONDS"])


def _promote(active: SigningKey | None, upcoming: SigningKey, now: datetime) -> datetime:
    """Make ``upcoming`` the signing key; return when it starts signing."""
    # A key another node's JWKS does not list yet must not sign: the new key starts once every
    # worker has reloaded the key set, and the old one signs until then (keys.KeySet.signer).
    # With nothing signing at all, waiting would only turn token requests away.
    starts = max(now, upcoming.created + propagation()) if active is not None else now
    if active is not None:
        SigningKey.objects.filter(pk=active.pk).update(state=SigningKey.State.RETIRED, retired_at=starts)
    SigningKey.objects.filter(pk=upcoming.pk).update(state=SigningKey.State.ACTIVE, activated_at=starts)
    return starts


def _rotate_algorithm(algorithm: str, now: datetime, force: bool) -> list[Step]:
    steps: list[Step] = []
    rows = list(SigningKey.objects.filter(algorithm=algorithm).order_by("created"))
    active = next((row for row in rows if row.state == SigningKey.State.ACTIVE), None)
    upcoming = next((row for row in rows if row.state == SigningKey.State.NEXT), None)

    if active is None and upcoming is None:
        row = _create(algorithm, SigningKey.State.ACTIVE, now)
        return [Step(algorithm, "created active", row.kid)]

    if active is not None:
        due_at = (active.activated_at or active.created) + rotation_period()
        if upcoming is None and (force or now >= due_at - publish_lead()):
            upcoming = _create(algorithm, SigningKey.State.NEXT, now)
            steps.append(Step(algorithm, "created next", upcoming.kid))
        published_long_enough = upcoming is not None and upcoming.created <= now - publish_lead()
        if upcoming is not None and (force or (now >= due_at and published_long_enough)):
            _promote(active, upcoming, now)
            steps.append(Step(algorithm, "retired", active.kid))
            steps.append(Step(algorithm, "promoted", upcoming.kid))
    elif upcoming is not None:
        # No active key (e.g. one was deleted by hand): sign with the published next key at once.
        _promote(None, upcoming, now)
        steps.append(Step(algorithm, "promoted", upcoming.kid))

    expired = [
        row
        for row in rows
        if row.state == SigningKey.State.RETIRED and row.retired_at and row.retired_at <= now - retention()
    ]
    for row in expired:
        row.delete()
        steps.append(Step(algorithm, "removed", row.kid))
    return steps


def _audit(steps: list[Step], *, actor: User | AnonymousUser | None, actor_label: str, forced: bool) -> None:
    for step in steps:
        audit_record(
            action=STEP_ACTIONS[step.action],
            target=f"{step.algorithm} {step.kid}",
            actor=actor,
            actor_label=actor_label,
            detail={"forced": forced},
        )


def keys_rotate(
    *,
    now: datetime | None = None,
    force: bool = False,
    algorithms: list[str] | None = None,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> list[Step]:
    """Take every due lifecycle step (all of them at once with ``force``); return what was done."""
    now = now or timezone.now()
    with _process_lock(), transaction.atomic():
        _lock()
        steps = [
            step
            for algorithm in (algorithms or KEY_ALGORITHMS)
            for step in _rotate_algorithm(algorithm, now, force)
        ]
        _audit(steps, actor=actor, actor_label=actor_label, forced=force)
    if steps:
        transaction.on_commit(keys.clear_cache)
        keys.clear_cache()
    return steps


def key_retire(
    *, key: SigningKey, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> list[Step]:
    """Stop signing with ``key`` now; an active key is replaced by a new one at once."""
    # Its state now, not when it was loaded: retiring the active key may have just promoted it.
    key.refresh_from_db(fields=["state"])
    if key.state == SigningKey.State.ACTIVE:
        return keys_rotate(force=True, algorithms=[key.algorithm], actor=actor, actor_label=actor_label)
    if key.state == SigningKey.State.NEXT:
        # Only if it is still next: a concurrent rotation may have just promoted it.
        retired = SigningKey.objects.filter(pk=key.pk, state=SigningKey.State.NEXT).update(
            state=SigningKey.State.RETIRED, retired_at=timezone.now()
        )
        if not retired:
            return key_retire(key=key, actor=actor, actor_label=actor_label)
        audit_record(
            action=Action.SIGNING_KEY_RETIRED,
            target=f"{key.algorithm} {key.kid}",
            actor=actor,
            actor_label=actor_label,
        )
        keys.clear_cache()
        return [Step(key.algorithm, "retired", key.kid)]
    return []


def key_activate(
    *, key: SigningKey, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> list[Step]:
    """Sign with ``key`` (e.g. one just imported) at once; its algorithm's active key retires."""
    now = timezone.now()
    with _process_lock(), transaction.atomic():
        _lock()
        key.refresh_from_db()
        if key.state == SigningKey.State.ACTIVE:
            return []
        active = SigningKey.objects.filter(algorithm=key.algorithm, state=SigningKey.State.ACTIVE).first()
        _promote(active, key, now)
        steps = [Step(key.algorithm, "retired", active.kid)] if active else []
        steps.append(Step(key.algorithm, "promoted", key.kid))
        _audit(steps, actor=actor, actor_label=actor_label, forced=True)
    keys.clear_cache()
    return steps
