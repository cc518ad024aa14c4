"""Brute-force protection: failed logins are counted per account and per client IP.

Failures are rows in the database (``LoginFailure``), so every worker and node shares them with
no extra service. An account counts password and second-factor failures separately (a correct
password must not reset the count of wrong codes), and unknown usernames are counted exactly like
real ones, so nothing a client sees says whether an account exists. After
``LOGIN_MAX_FAILURES_PER_ACCOUNT`` (or ``_PER_IP``) failures within ``LOGIN_FAILURE_WINDOW``
seconds the account (or IP) is locked for ``LOGIN_LOCKOUT`` seconds. Each further lockout lasts twice
as long, up to ``LOGIN_LOCKOUT_MAX``, until a lockout has been over for ``LOGIN_LOCKOUT_MAX``.
"""

import ipaddress
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record

from .models import LoginFailure

Kind = Literal["password", "second_factor"]

Scope = LoginFailure.Scope
ACCOUNT_SCOPES = {"password": Scope.PASSWORD, "second_factor": Scope.SECOND_FACTOR}


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    # Seconds until the lockout ends; 0 when allowed.
    retry_after: int = 0

    @property
    def message(self) -> str:
        """Return the text shown to a refused user: the same whether or not the account exists."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        return f"Too many failed attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


ALLOWED = ThrottleDecision(allowed=True)


def account_key(username: str) -> str:
    """Return the key failures for ``username`` are counted under, whether or not it exists."""
    # Case and Unicode variants share one count, so they cannot be used to get more attempts.
    return unicodedata.normalize("NFKC", username).strip().casefold()[:255]


def ip_key(address: str) -> str | None:
    """Return the key failures from ``address`` are counted under: the IP, or an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        # One IPv6 subscriber usually holds a whole /64; counting single addresses would let
        # it make 2**64 times the allowed attempts.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client address: REMOTE_ADDR, or behind a proxy the right-most untrusted hop."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.PORCHLIGHT["BEHIND_PROXY"]:
        return ip_key(remote)
    # Each proxy appends the address it received the request from, so only the right-most
    # entries are trustworthy: walk from the right past our own proxies (TRUSTED_PROXIES); the
    # first other address is the client. Anything left of it may be forged by the client.
    client = remote
    trusted = settings.PORCHLIGHT["TRUSTED_PROXIES"]
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        if ip_key(hop) is None:
            break
        client = hop.strip()
        address = ipaddress.ip_address(client)
        if not any(address in network for network in trusted):
            break
    return ip_key(client)


def _keys(request: HttpRequest, username: str, scopes: list[str]) -> list[tuple[str, str]]:
    keys = [(scope, account_key(username)) for scope in scopes]
    address = client_ip(request)
    if address is not None:
        keys.append((Scope.CLIENT_IP, address))
    return keys


def _decision(locked_until: datetime | None, now: datetime) -> ThrottleDecision:
    if locked_until is None or locked_until <= now:
        return ALLOWED
    return ThrottleDecision(allowed=False, retry_after=math.ceil((locked_until - now).total_seconds()))


def _matching(keys: list[tuple[str, str]]) -> Q:
    condition = Q(pk__in=[])
    for scope, key in keys:
        condition |= Q(scope=scope, key=key)
    return condition


def throttle_check(*, request: HttpRequest, username: str) -> ThrottleDecision:
    """Return whether ``username`` may try to authenticate from this client now."""
    now = timezone.now()
    keys = _keys(request, username, [Scope.PASSWORD, Scope.SECOND_FACTOR])
    latest = (
        LoginFailure.objects.filter(_matching(keys), locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    return _decision(latest, now)


def _limit(scope: str) -> int:
    if scope == Scope.CLIENT_IP:
        return settings.PORCHLIGHT["LOGIN_MAX_FAILURES_PER_IP"]
    return settings.PORCHLIGHT["LOGIN_MAX_FAILURES_PER_ACCOUNT"]


def _count_failure(scope: str, key: str, now: datetime) -> datetime | None:
    window = timedelta(seconds=settings.PORCHLIGHT["LOGIN_FAILURE_WINDOW"])
    lockout_max = timedelta(seconds=settings.PORCHLIGHT["LOGIN_LOCKOUT_MAX"])
    row, _ = LoginFailure.objects.select_for_update().get_or_create(
        scope=scope, key=key, defaults={"window_started": now, "last_failure": now, "expires": now}
    )
    if row.locked_until is not None and row.locked_until > now:
        # Locked by a concurrent request after our check: refused attempts are not counted.
        return row.locked_until
    if row.expires <= now:
        # Quiet for long enough: earlier lockouts no longer make the next one longer.
        row.failures, row.window_started, row.lockouts, row.locked_until = 0, now, 0, None
    elif row.window_started + window <= now or (row.locked_until and row.window_started < row.locked_until):
        # A new window opens when the old one ran out or a lockout ended within it.
        row.failures, row.window_started = 0, now
    row.failures += 1
    row.last_failure = now
    if row.failures >= _limit(scope):
        seconds = min(
            settings.PORCHLIGHT["LOGIN_LOCKOUT"] * 2 ** min(row.lockouts, 32), lockout_max.total_seconds()
        )
        row.locked_until = now + timedelta(seconds=seconds)
        row.lockouts += 1
        audit_record(
            action="login_lockout",
            target=str(row),
            actor_label="login throttle",
            detail={"failures": row.failures, "seconds": int(seconds)},
        )
    row.expires = row.window_started + window
    if row.locked_until is not None:
        row.expires = max(row.expires, row.locked_until + lockout_max)
    row.save()
    return row.locked_until


@transaction.atomic
def throttle_failure(*, request: HttpRequest, username: str, kind: Kind = "password") -> ThrottleDecision:
    """Count a failed ``kind`` attempt for ``username`` and this client; return whether it is now locked."""
    now = timezone.now()
    # Always account before IP: every transaction locks rows in the same order (no deadlock).
    locks = [
        _count_failure(scope, key, now) for scope, key in _keys(request, username, [ACCOUNT_SCOPES[kind]])
    ]
    return _decision(max((until for until in locks if until is not None), default=None), now)


def throttle_success(*, request: HttpRequest, username: str, kind: Kind | None = None) -> None:
    """Forget the account's failures after a successful ``kind`` step (None: the whole login)."""
    # A correct password clears only password failures (kind="password"), so knowing the password
    # cannot reset the count of wrong second-factor codes; a completed login clears both. The
    # client IP's failures stay counted: one good account must not buy an IP more guesses.
    scopes = [Scope.PASSWORD] if kind == "password" else list(ACCOUNT_SCOPES.values())
    LoginFailure.objects.filter(scope__in=scopes, key=account_key(username)).delete()


def throttle_records(*, username: str | None = None, ip: str | None = None) -> QuerySet[LoginFailure]:
    """Return the failure records of an account (both factors) and/or a client IP."""
    keys = [(scope, account_key(username)) for scope in ACCOUNT_SCOPES.values()] if username else []
    if ip:
        keys.append((Scope.CLIENT_IP, ip_key(ip) or ip.strip()))
    return LoginFailure.objects.filter(_matching(keys))


@transaction.atomic
def throttle_clear(*, records: QuerySet[LoginFailure], actor=None, actor_label: str = "") -> int:
    """Delete ``records``, lifting their lockouts at once; return how many were deleted."""
    rows = list(records.select_for_update())
    for row in rows:
        audit_record(action="login_lockout_cleared", target=str(row), actor=actor, actor_label=actor_label)
    return LoginFailure.objects.filter(pk__in=[row.pk for row in rows]).delete()[0]


def throttle_clear_expired() -> int:
    """Delete failure records that no longer count for anything; return how many."""
    return LoginFailure.objects.filter(expires__lte=timezone.now()).delete()[0]
