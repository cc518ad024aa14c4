"""Brute-force protection: attempts are counted per account and per client IP before they are checked.

Counts are rows in the database (``LoginFailure``), so every worker and node shares them with no
extra service. An account counts password and second-factor attempts separately (a correct password
must not reset the count of wrong codes), and unknown usernames are counted exactly like real ones,
so nothing a client sees says whether an account exists. After ``LOGIN_MAX_FAILURES_PER_ACCOUNT`` (or
``_PER_IP``) failures within ``LOGIN_FAILURE_WINDOW`` seconds the account (or IP) is locked for
``LOGIN_LOCKOUT`` seconds. Each further lockout lasts twice as long, up to ``LOGIN_LOCKOUT_MAX``,
until a lockout has been over for ``LOGIN_LOCKOUT_MAX``.

Count first, then check: ``throttle_attempt`` counts the attempt under a row lock *before* the
password or code is checked, and refuses it there when the account or IP is locked or its attempts
in the window are used up by earlier (possibly still running) ones. A wrong answer confirms the count
and may lock (``throttle_failure``); a right one gives the attempt back (``throttle_success``). So
however many guesses arrive at once, at most the limit are ever checked; checking first and counting
after would let every concurrent guess past a check made before any of them was counted.

The row locks are held only for these short bookkeeping transactions, never across the password
hash: Argon2 takes 50-100 ms, and a lock held that long would queue every login from one address
(an office behind NAT) and keep a database transaction open while hashing.

Password reset requests use the same rows under their own scopes: at most
``PASSWORD_RESET_MAX_PER_ACCOUNT`` (or ``_PER_IP``) mails per ``PASSWORD_RESET_WINDOW``; so do
sign-ups: at most ``SIGNUP_MAX_PER_ADDRESS`` (or ``_PER_IP``) per ``SIGNUP_WINDOW``.

With ``PORCHLIGHT_CACHE_THROTTLE`` the counts within the window live in the shared cache (Redis)
instead, one atomic ``INCR`` per key and attempt, so a failed login writes no row; lockouts stay
rows, where staff see and clear them. Either store sits behind the same few methods
(``_DatabaseCounts``, ``_CacheCounts``; the cache's windowed count is ``ground/cache_counts.py``,
which the client rate limits share); when to lock and for how long is decided here once.
"""

import hashlib
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

from audit.actions import Action
from audit.services import audit_record
from ground.cache_counts import cache_count, started_name
from ground.client_address import client_ip, ip_key

from .models import LoginFailure

Kind = Literal["password", "second_factor"]

Scope = LoginFailure.Scope
ACCOUNT_SCOPES = {"password": Scope.PASSWORD, "second_factor": Scope.SECOND_FACTOR}
# Every transaction locks rows in this order, so two of them never wait for each other (no deadlock).
LOCK_ORDER: list[str] = [
    Scope.PASSWORD,
    Scope.SECOND_FACTOR,
    Scope.CLIENT_IP,
    Scope.RESET_ACCOUNT,
    Scope.RESET_IP,
    Scope.SIGNUP_ADDRESS,
    Scope.SIGNUP_IP,
]

Key = tuple[str, str]
# Times a row is looked for or made while concurrent attempts make and delete it.
ROW_TRIES = 5


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    # Seconds until the lockout ends; 0 when allowed.
    retry_after: int = 0

    @property
    def message(self) -> str:
        """Return the text shown to a refused user: the same whether or not the account exists."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "Too many failed attempts. Try again in %(minutes)d minute.",
            "Too many failed attempts. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


ALLOWED = ThrottleDecision(allowed=True)


@dataclass(frozen=True)
class Attempt:
    """One password or code attempt, counted before it is checked."""

    username: str
    kind: Kind
    # The (scope, key) pairs the attempt was counted under: the account's, then the client IP's.
    keys: tuple[Key, ...]
    decision: ThrottleDecision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: int
    # Seconds the first lockout lasts; 0: locked until the window ends.
    lockout: int
    lockout_max: int


def _limit(scope: str) -> Limit:
    conf = settings.PORCHLIGHT
    per_ip = scope in (Scope.CLIENT_IP, Scope.RESET_IP, Scope.SIGNUP_IP)
    if scope in (Scope.SIGNUP_ADDRESS, Scope.SIGNUP_IP):
        signups = conf["SIGNUP_MAX_PER_IP"] if per_ip else conf["SIGNUP_MAX_PER_ADDRESS"]
        return Limit(signups, conf["SIGNUP_WINDOW"], 0, 0)
    if scope in (Scope.RESET_ACCOUNT, Scope.RESET_IP):
        resets = conf["PASSWORD_RESET_MAX_PER_IP"] if per_ip else conf["PASSWORD_RESET_MAX_PER_ACCOUNT"]
        return Limit(resets, conf["PASSWORD_RESET_WINDOW"], 0, 0)
    return Limit(
        conf["LOGIN_MAX_FAILURES_PER_IP"] if per_ip else conf["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        conf["LOGIN_FAILURE_WINDOW"],
        conf["LOGIN_LOCKOUT"],
        conf["LOGIN_LOCKOUT_MAX"],
    )


def account_key(username: str) -> str:
    """Return the key attempts for ``username`` are counted under, whether or not it exists."""
    # Case and Unicode variants share one count, so they cannot be used to get more attempts.
    return unicodedata.normalize("NFKC", username).strip().casefold()[:255]


def _ip_keys(request: HttpRequest, scope: str) -> list[Key]:
    address = client_ip(request)
    return [] if address is None else [(scope, address)]


def _ordered(keys: Iterable[Key]) -> list[Key]:
    return sorted(keys, key=lambda pair: (LOCK_ORDER.index(pair[0]), pair[1]))


def _locked_row(pair: Key) -> LoginFailure | None:
    scope, key = pair
    return LoginFailure.objects.select_for_update().filter(scope=scope, key=key).first()


def _matching(keys: list[Key]) -> Q:
    condition = Q(pk__in=[])
    for scope, key in keys:
        condition |= Q(scope=scope, key=key)
    return condition


def _decision(locked_until: datetime | None, now: datetime) -> ThrottleDecision:
    if locked_until is None or locked_until <= now:
        return ALLOWED
    return ThrottleDecision(allowed=False, retry_after=math.ceil((locked_until - now).total_seconds()))


def _lock_end(row: LoginFailure, now: datetime) -> datetime | None:
    """Return when ``row``'s lockout ends, or None when it is not locked now."""
    return row.locked_until if row.locked_until is not None and row.locked_until > now else None


def _locked(row: LoginFailure, now: datetime) -> bool:
    return _lock_end(row, now) is not None


def _lockout_seconds(row: LoginFailure, limit: Limit, now: datetime) -> float:
    """Return how long a lockout of ``row`` reached now would last."""
    if not limit.lockout:
        return max(1.0, (row.window_started + timedelta(seconds=limit.window) - now).total_seconds())
    return min(limit.lockout * 2 ** min(row.lockouts, 32), limit.lockout_max)


def _roll_window(row: LoginFailure, limit: Limit, now: datetime) -> None:
    """Start ``row`` (not locked now) counting afresh where its old counts no longer apply."""
    if row.expires <= now:
        # Quiet for long enough: earlier lockouts no longer make the next one longer.
        row.failures, row.window_started, row.lockouts, row.locked_until = 0, now, 0, None
    elif row.window_started + timedelta(seconds=limit.window) <= now or (
        row.locked_until and row.window_started < row.locked_until
    ):
        # A new window opens when the old one ran out or a lockout ended within it.
        row.failures, row.window_started = 0, now


def _set_expiry(row: LoginFailure, limit: Limit) -> None:
    row.expires = row.window_started + timedelta(seconds=limit.window)
    if row.locked_until is not None:
        row.expires = max(row.expires, row.locked_until + timedelta(seconds=limit.lockout_max))


def _lock_out(row: LoginFailure, limit: Limit, now: datetime, *, action: Action, actor_label: str) -> None:
    """Lock ``row``, whose failures reached the limit, for its next lockout; audit it."""
    seconds = _lockout_seconds(row, limit, now)
    row.locked_until = now + timedelta(seconds=seconds)
    row.lockouts += 1
    audit_record(
        action=action,
        target=str(row),
        actor_label=actor_label,
        detail={"failures": row.failures, "seconds": int(seconds)},
    )


def _latest_lockout(keys: list[Key], now: datetime) -> datetime | None:
    """Return when the last lockout among ``keys`` ends; None when none is locked."""
    return (
        LoginFailure.objects.filter(_matching(keys), locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )


def _row_locked_or_made(pair: Key, now: datetime) -> LoginFailure:
    """Return ``pair``'s row, locked, made (empty) if there is none."""
    scope, key = pair
    for _attempt in range(ROW_TRIES):
        try:
            return LoginFailure.objects.select_for_update().get_or_create(
                scope=scope, key=key, defaults={"window_started": now, "last_failure": now, "expires": now}
            )[0]
        except IntegrityError:
            # A concurrent attempt made the row (the insert waited for it), and a right answer
            # deleted it again before this one could read it (PostgreSQL): look again.
            continue
    raise IntegrityError(f"{scope} {key}: the row kept appearing and disappearing")


class _Refused(Exception):
    def __init__(self, until: datetime) -> None:
        self.until = until


class _DatabaseCounts:
    """Counts in the ``LoginFailure`` rows themselves, next to their lockouts, under row locks."""

    def reserve(self, keys: list[Key], *, watch: list[Key], now: datetime) -> datetime | None:
        """Count one attempt under every key; return when refused (nothing counted), else None.

        ``watch`` are further keys whose lockout refuses the attempt without counting it there.
        """
        try:
            with transaction.atomic():
                refused = _latest_lockout(watch, now)
                rows = []
                for scope, key in _ordered(keys):
                    # The row lock makes count-and-check one step: a concurrent attempt waits here
                    # and then sees this one counted (PostgreSQL; SQLite serialises whole writes).
                    row = _row_locked_or_made((scope, key), now)
                    limit = _limit(scope)
                    until = _lock_end(row, now)
                    if until is None:
                        _roll_window(row, limit, now)
                        if row.failures < limit.attempts:
                            rows.append((row, limit))
                            continue
                        # The window's attempts are taken by ones still being checked: refuse for
                        # as long as the lockout they are about to cause.
                        until = now + timedelta(seconds=_lockout_seconds(row, limit, now))
                    refused = until if refused is None else max(refused, until)
                if refused is not None:
                    # Refused attempts are not counted (nor are rows made for them).
                    raise _Refused(refused)
                for row, limit in rows:
                    row.failures += 1
                    _set_expiry(row, limit)
                    row.save()
        except _Refused as refusal:
            return refusal.until
        return None

    def failed(self, pair: Key, *, now: datetime) -> LoginFailure | None:
        """Return ``pair``'s row, locked, counting the failure; None when it was cleared meanwhile."""
        return _locked_row(pair)

    def give_back(self, pair: Key, row: LoginFailure | None) -> None:
        """Stop counting one attempt, which was right, under ``pair`` (its row locked)."""
        if row is None:
            return
        row.failures = max(0, row.failures - 1)
        if row.failures == 0 and row.lockouts == 0 and row.locked_until is None:
            row.delete()
        else:
            row.save(update_fields=["failures"])

    def forget(self, pair: Key, row: LoginFailure | None) -> None:
        """Drop ``pair``'s count kept outside its row: here there is none."""


class _CacheCounts:
    """Counts in the shared cache (Redis), one ``INCR`` per key and attempt; lockouts stay rows.

    ``INCR`` is atomic, so of any number of concurrent attempts exactly the first ``limit`` get
    a count within it: count-and-check stays one step without a lock. A count lives for the
    window from its first attempt (the key's expiry) and is kept per lockout (its name carries
    the end of the key's last lockout), so the attempts after a lockout count afresh while the
    old count goes on refusing until the lockout row is committed. Rows are written only to lock.
    """

    def _names(self, pair: Key, row: LoginFailure | None) -> tuple[str, str]:
        """Return the names of ``pair``'s count and of when its window started."""
        scope, key = pair
        # Hashed: cache keys must be short and plain, and the cache need not hold usernames.
        digest = hashlib.sha256(key.encode()).hexdigest()
        epoch = 0 if row is None or row.locked_until is None else int(row.locked_until.timestamp())
        name = f"throttle:{scope}:{digest}:{epoch}"
        return name, started_name(name)

    def _add(self, names: tuple[str, str], limit: Limit, now: datetime) -> int:
        return cache_count(names[0], window=limit.window, now=now)

    def _take_back(self, names: tuple[str, str]) -> None:
        count_name, _ = names
        try:
            count = cache.decr(count_name)
        except ValueError:
            return  # expired or cleared meanwhile: nothing left to give back
        if count < 0:
            # The key expired between decr's check and its decrement and came back as -1 with
            # no expiry: drop it rather than keep an extra attempt for ever.
            cache.delete(count_name)

    def _view(
        self, pair: Key, row: LoginFailure | None, names: tuple[str, str], count: int, now: datetime
    ) -> LoginFailure:
        """Return ``row`` (or a new one), not locked, as it stands with ``count`` failures."""
        scope, key = pair
        if row is None:
            row = LoginFailure(scope=scope, key=key, window_started=now, last_failure=now, expires=now)
        # Forgets earlier lockouts after a quiet spell, as the database store does.
        _roll_window(row, _limit(scope), now)
        started = cache.get(names[1])
        if started is not None:
            row.window_started = min(now, datetime.fromtimestamp(started, tz=now.tzinfo))
        row.failures = count
        return row

    def reserve(self, keys: list[Key], *, watch: list[Key], now: datetime) -> datetime | None:
        """Count one attempt under every key; return when refused (nothing counted), else None."""
        rows = {(row.scope, row.key): row for row in LoginFailure.objects.filter(_matching([*keys, *watch]))}
        locked = [end for row in rows.values() if (end := _lock_end(row, now)) is not None]
        if locked:
            return max(locked)
        refused: datetime | None = None
        counted = []
        for pair in _ordered(keys):
            row, limit = rows.get(pair), _limit(pair[0])
            names = self._names(pair, row)
            count = self._add(names, limit, now)
            counted.append(names)
            if count > limit.attempts:
                # The window's attempts are taken by ones still being checked: refuse for as
                # long as the lockout they are about to cause.
                view = self._view(pair, row, names, count, now)
                until = now + timedelta(seconds=_lockout_seconds(view, limit, now))
                refused = until if refused is None else max(refused, until)
        if refused is not None:
            # Refused attempts are not counted. Until given back they count, so a concurrent
            # attempt may be refused with this one: never let through.
            for names in counted:
                self._take_back(names)
        return refused

    def failed(self, pair: Key, *, now: datetime) -> LoginFailure | None:
        """Return ``pair``'s row, locked, when it is locked or the failure locks it; else None."""
        row = _locked_row(pair)
        if row is not None and _locked(row, now):
            return row
        names = self._names(pair, row)
        count = cache.get(names[0])
        if count is None or count < _limit(pair[0]).attempts:
            # Under the limit (or cleared meanwhile): nothing for the database to hold.
            return None
        if row is None:
            scope, key = pair
            row = _row_locked_or_made((scope, key), now)
            if _locked(row, now):
                return row  # a concurrent failure locked it first
        return self._view(pair, row, names, count, now)

    def give_back(self, pair: Key, row: LoginFailure | None) -> None:
        """Stop counting one attempt, which was right, under ``pair``."""
        self._take_back(self._names(pair, row))

    def forget(self, pair: Key, row: LoginFailure | None) -> None:
        """Drop ``pair``'s counts: the one before any lockout and the one since ``row``'s."""
        cache.delete_many([*self._names(pair, None), *self._names(pair, row)])


def _counts() -> _DatabaseCounts | _CacheCounts:
    return _CacheCounts() if settings.PORCHLIGHT["CACHE_THROTTLE"] else _DatabaseCounts()


def _confirm(keys: list[Key], *, now: datetime, action: Action, actor_label: str) -> datetime | None:
    """Record that the attempt counted under ``keys`` failed; lock what reached its limit."""
    counts = _counts()
    latest: datetime | None = None
    for pair in _ordered(keys):
        row = counts.failed(pair, now=now)
        if row is None:
            # Cleared meanwhile, by staff or by the account's right answer: nothing left to lock.
            continue
        limit = _limit(pair[0])
        row.last_failure = now
        if not _locked(row, now) and row.failures >= limit.attempts:
            _lock_out(row, limit, now, action=action, actor_label=actor_label)
        _set_expiry(row, limit)
        row.save()
        if (end := _lock_end(row, now)) is not None:
            latest = end if latest is None else max(latest, end)
    return latest


def throttle_attempt(*, request: HttpRequest, username: str, kind: Kind = "password") -> Attempt:
    """Count a ``kind`` attempt for ``username`` from this client before it is checked.

    A refused attempt (``not attempt.allowed``) must not be checked at all. Every allowed one
    ends in ``throttle_failure`` or ``throttle_success``; one that ends in neither (an error)
    stays counted as a failure. Call it outside any transaction, or the row locks it takes are
    held until that transaction ends, across the password check.
    """
    now = timezone.now()
    account = account_key(username)
    keys: list[Key] = [(ACCOUNT_SCOPES[kind], account), *_ip_keys(request, Scope.CLIENT_IP)]
    # A lockout of either factor's count refuses both: a locked second factor must not be
    # skipped by starting over with the password.
    watch: list[Key] = [
        (scope, account) for scope in ACCOUNT_SCOPES.values() if scope != ACCOUNT_SCOPES[kind]
    ]
    refused = _counts().reserve(keys, watch=watch, now=now)
    decision = ALLOWED if refused is None else _decision(refused, now)
    return Attempt(username=username, kind=kind, keys=tuple(keys), decision=decision)


@transaction.atomic
def throttle_failure(*, attempt: Attempt) -> ThrottleDecision:
    """Record that ``attempt`` was wrong; return whether the account or IP is now locked."""
    if not attempt.allowed:
        return attempt.decision
    now = timezone.now()
    locked_until = _confirm(
        list(attempt.keys), now=now, action=Action.LOGIN_LOCKOUT, actor_label="login throttle"
    )
    return _decision(locked_until, now)


@transaction.atomic
def throttle_unjudged(*, attempt: Attempt) -> None:
    """Give back ``attempt``, which could not be checked (the directory did not answer).

    Neither right nor wrong: nothing is forgiven, and an outage locks nobody out.
    """
    if not attempt.allowed:
        return
    counts = _counts()
    for pair in _ordered(list(attempt.keys)):
        counts.give_back(pair, _locked_row(pair))


@transaction.atomic
def throttle_success(*, attempt: Attempt) -> None:
    """Give back the right ``attempt`` and forget the account's failures."""
    if not attempt.allowed:
        return
    # A correct password clears only password failures, so knowing the password cannot reset
    # the count of wrong second-factor codes; a correct second factor completes the login and
    # clears both. In-flight wrong attempts on the account are forgiven with them.
    scopes: list[str] = [Scope.PASSWORD] if attempt.kind == "password" else list(ACCOUNT_SCOPES.values())
    account: list[Key] = [(scope, account_key(attempt.username)) for scope in scopes]
    addresses = [pair for pair in attempt.keys if pair[0] == Scope.CLIENT_IP]
    counts = _counts()
    for pair in _ordered([*account, *addresses]):
        row = _locked_row(pair)
        if pair in account:
            counts.forget(pair, row)
            if row is not None:
                row.delete()
            continue
        # The client IP's failures stay counted (one good account must not buy an IP more
        # guesses); only this attempt, which was right, no longer counts against it.
        counts.give_back(pair, row)


@transaction.atomic
def throttle_password_reset(*, request: HttpRequest, email: str) -> bool:
    """Count a password reset request for ``email`` from this client; return whether to send the mail."""
    now = timezone.now()
    keys: list[Key] = [(Scope.RESET_ACCOUNT, account_key(email)), *_ip_keys(request, Scope.RESET_IP)]
    if _counts().reserve(keys, watch=[], now=now) is not None:
        return False
    # Every request counts: reaching the limit holds the account (or IP) until its window ends.
    _confirm(keys, now=now, action=Action.PASSWORD_RESET_LIMITED, actor_label="password reset throttle")
    return True


@transaction.atomic
def throttle_signup(*, request: HttpRequest, email: str) -> bool:
    """Count a sign-up for ``email`` from this client; return whether it may go ahead."""
    now = timezone.now()
    keys: list[Key] = [(Scope.SIGNUP_ADDRESS, account_key(email)), *_ip_keys(request, Scope.SIGNUP_IP)]
    if _counts().reserve(keys, watch=[], now=now) is not None:
        return False
    # Every sign-up counts, whether it made an account or told an existing one's owner.
    _confirm(keys, now=now, action=Action.SIGNUP_LIMITED, actor_label="sign-up throttle")
    return True


def throttle_records(*, username: str | None = None, ip: str | None = None) -> QuerySet[LoginFailure]:
    """Return the failure records of an account (both factors) and/or a client IP."""
    keys: list[Key] = (
        [(scope, account_key(username)) for scope in ACCOUNT_SCOPES.values()] if username else []
    )
    if ip:
        keys.append((Scope.CLIENT_IP, ip_key(ip) or ip.strip()))
    return LoginFailure.objects.filter(_matching(keys))


@transaction.atomic
def throttle_clear(*, records: QuerySet[LoginFailure], actor=None, actor_label: str = "") -> int:
    """Delete ``records``, lifting their lockouts at once; return how many were deleted."""
    # Locked one by one in the order every other transaction locks them (no deadlock).
    ordered = _ordered((row.scope, row.key) for row in records)
    rows = [row for pair in ordered if (row := _locked_row(pair)) is not None]
    counts = _counts()
    for row in rows:
        counts.forget((row.scope, row.key), row)
        audit_record(
            action=Action.LOGIN_LOCKOUT_CLEARED, target=str(row), actor=actor, actor_label=actor_label
        )
    return LoginFailure.objects.filter(pk__in=[row.pk for row in rows]).delete()[0]


def throttle_clear_expired() -> int:
    """Delete failure records that no longer count for anything; return how many."""
    return LoginFailure.objects.filter(expires__lte=timezone.now()).delete()[0]
