"""Per-client request budgets at the token, introspection, revocation, UserInfo and device endpoints.

A buggy or hostile client can hammer the endpoints it calls without a person in the loop. Each
client gets one budget for all five together: ``Client.rate_limit`` requests per window (blank:
``PORCHLIGHT_CLIENT_RATE_LIMIT``, ``600/60`` unless configured; ``unlimited``: not counted at
all, for trusted back ends). One budget rather than one per endpoint: one number for staff to
set and one count per request, and a client that floods any of them is the same client.

Who is counted. A request counts against a client only once the endpoint has accepted it as that
client's: a confidential client must have authenticated (RFC 6749 §2.3.1), a public client
is known by its ``client_id`` (RFC 6749 §2.1; anyone may send that, so its budget protects the
provider rather than the client), UserInfo counts the client of an access token it accepts (an
invalid token counts against no client). A request whose client did not authenticate is counted
per (named ``client_id``, client address) against the default budget instead, so naming another
client's id spends only the sender's own budget, never the victim's; introspection serves only
confidential clients, so a public client's call there counts the same way.

When. For the token and revocation endpoints the client is authenticated here, through the
validator's public ``client_authentication_required``, ``authenticate_client`` and
``authenticate_client_id`` (as oauthlib's grants and revocation endpoint do), before the grant
runs and before the token request's transaction opens: a refused request consumes no code,
refresh token or device code, and the count's row is locked only for its own statement, never
across a token request. The client row found here, and whether it authenticated, is handed to
the validator for the same request (``client_loaded``), so authenticating first costs no second
lookup and no second check of the secret.

Counting. A window opens with the first request after the last one ended and lasts the budget's
seconds; every request in it adds one, refused ones included, and a request whose count passes
the budget is refused until the window ends. In the database it is one upsert per request
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``, atomic on PostgreSQL and SQLite alike: of any
number of concurrent requests exactly the budget's worth get a count within it). A budget of
2,000 requests or more is counted ``lease_size`` at a time per process (``_database_count``:
never more than the budget served, at most ``lease_size - 1`` per process unserved at a window's
end). On PostgreSQL the table is UNLOGGED (migration 0021): counts are worth nothing after a
crash or on a promoted standby, so they write no WAL. With
``PORCHLIGHT_CACHE_THROTTLE`` it is the shared cache's ``INCR`` (``ground/cache_counts.py``), as
the login throttle counts. Housekeeping deletes rows whose window has ended.

Refusal: ``429 Too Many Requests`` (RFC 6585 §4) with ``Retry-After`` (seconds until the window
ends) and the endpoints' JSON error shape with the code ``too_many_requests``. RFC 6749 defines
no code for it; ``slow_down`` tells a device to poll less often for good (RFC 8628 §3.5) and
``temporarily_unavailable`` is an authorization endpoint's word for an overloaded server
(RFC 6749 §4.1.2.1), so neither fits a budget that frees up at a known time.
"""

import hashlib
import math
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.dispatch import Signal
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from oauthlib.common import Request, urlencode
from oauthlib.oauth2.rfc6749 import errors

from ground.cache_counts import cache_count, cache_window_started
from ground.client_address import client_ip
from ground.prepared_queries import statement_cursor
from ground.rates import Rate

from .models import AccessToken, Client, ClientRequestCount
from .request_state import state_of

Endpoint = Literal["token", "introspection", "revocation", "userinfo", "device_authorization"]

ERROR = "too_many_requests"

# Sent for every refused request, with ``endpoint`` and ``client`` (None: no client authenticated);
# ops/metrics.py counts them.
request_refused = Signal()


@dataclass(frozen=True)
class Refusal:
    # Seconds until the budget's window ends (RFC 9110 §10.2.3 Retry-After).
    retry_after: int


@dataclass(frozen=True)
class ClientIdentity:
    """Who a request to a client-authenticating endpoint comes from."""

    # The client the request names, when it exists (whether or not it authenticated).
    client: Client | None
    # Whether the endpoint accepts the request as ``client``'s: a confidential client that
    # authenticated, a public one that named itself.
    accepted: bool
    # The client_id the request named, as sent ("" when none).
    client_id: str
    # The client assertion that authenticated the client, if one did (client_auth.py).
    assertion: str | None = None
    # The credentials the client authenticated with (RFC 6749 §2.3.1), by secret or assertion,
    # rather than only naming itself (a public client); None when it did not authenticate.
    credentials: "Credentials | None" = field(default=None, repr=False)


# The client credentials a request carries: its Authorization header and the body's client_id
# and client_secret (RFC 6749 §2.3.1).
Credentials = tuple[str | None, str | None, str | None]


def credentials_of(request: Request) -> Credentials:
    """Return the client credentials ``request`` (an oauthlib request) carries."""
    return (request.headers.get("Authorization"), request.client_id, request.client_secret)


# --- the stores --------------------------------------------------------------------------------


@cache
def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table, key, count, expires = (
        quote(name) for name in (ClientRequestCount._meta.db_table, "key", "count", "expires")
    )
    # One statement: SET's expressions read the row as it was, so both CASEs agree on whether
    # its window is still open (PostgreSQL and SQLite, SQL's ON CONFLICT semantics). Only quoted
    # names of the model's own are formatted in; every value is a parameter.
    return (
        f"INSERT INTO {table} ({key}, {count}, {expires}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{expires} > %s THEN {table}.{count} + excluded.{count} "
        f"ELSE excluded.{count} END, "
        f"{expires} = CASE WHEN {table}.{expires} > %s THEN {table}.{expires} ELSE excluded.{expires} END "
        f"RETURNING {count}, {expires}"
    )


# A lease is this fraction of the budget (1/1000), at most LEASE_MAX requests: budgets of 2,000
# requests per window or more are counted in leases of 2 or more (see _database_count).
LEASE_DIVISOR = 1000
LEASE_MAX = 32


def lease_size(rate: Rate) -> int:
    """Return how many requests of ``rate`` one process counts at a time: a thousandth of it, 1 to 32."""
    return max(1, min(LEASE_MAX, rate.requests // LEASE_DIVISOR))


@dataclass
class _Lease:
    rate: Rate
    expires: int  # the window's end, epoch ms
    left: int  # requests counted in the database and not yet served by this process


_leases: dict[str, _Lease] = {}
_leases_lock = threading.Lock()
# Held while a process counts a lease for a key, so that its other threads wait for that lease
# instead of each counting one of their own (a budget's last requests would go unserved).
_counting_locks = [threading.Lock() for _ in range(64)]


def _leased(key: str, rate: Rate, now_ms: int) -> int | None:
    """Serve one request from this process's lease for ``key``; return the window's end, or None."""
    with _leases_lock:
        lease = _leases.get(key)
        if lease is None or lease.left <= 0 or lease.expires <= now_ms or lease.rate != rate:
            return None
        lease.left -= 1
        return lease.expires


def _upsert(key: str, size: int, rate: Rate, now_ms: int) -> tuple[int, int]:
    with statement_cursor(connection) as cursor:
        cursor.execute(_upsert_sql(), [key, size, now_ms + rate.seconds * 1000, now_ms, now_ms])
        count, expires = (int(value) for value in cursor.fetchone())
    return count, expires


def _database_count(key: str, rate: Rate, now_ms: int) -> tuple[int, int]:
    """Count one request under ``key``; return its count in the window and when that ends (ms).

    A large budget is counted ``lease_size`` requests at a time: the upsert adds that many, this
    process serves the ones within the budget from memory until its window ends, and only then
    counts again. Of any number of concurrent requests on any number of nodes, no more than the
    budget are served (each served request was counted within it, atomically); those a process
    counted and did not serve before the window ended, at most ``lease_size - 1`` per process and
    budget, are lost to the client. Below 2,000 requests per window every request is one upsert, as before.
    """
    size = lease_size(rate)
    if size == 1:
        return _upsert(key, 1, rate, now_ms)
    # Reported as the last request within the budget: never refused.
    if (expires := _leased(key, rate, now_ms)) is not None:
        return rate.requests, expires
    with _counting_locks[hash(key) % len(_counting_locks)]:
        # Another thread may have counted a lease while this one waited.
        if (expires := _leased(key, rate, now_ms)) is not None:
            return rate.requests, expires
        count, expires = _upsert(key, size, rate, now_ms)
        # This process's share: the counts after the ones before ours, as far as the budget reaches.
        served = min(count, rate.requests) - (count - size)
        with _leases_lock:
            if served > 1:
                _leases[key] = _Lease(rate=rate, expires=expires, left=served - 1)
            else:
                _leases.pop(key, None)
    # The first of this process's share is this request's.
    return (count - size + 1 if served > 0 else count), expires


def leases_forget() -> None:
    """Forget the requests this process counted and has not served (a test's fresh database)."""
    with _leases_lock:
        _leases.clear()


def _cache_count(key: str, rate: Rate, now_ms: int) -> tuple[int, int]:
    # As in the database, a changed budget applies to the count so far; a changed window length
    # from the next window on (until then Retry-After may be off by the difference).
    name = f"ratelimit:{key}"
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    count = cache_count(name, window=rate.seconds, now=now)
    if count <= rate.requests:
        return count, 0
    started = cache_window_started(name)
    started_ms = now_ms if started is None else started * 1000
    return count, started_ms + rate.seconds * 1000


def _now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def _refusal(key: str, rate: Rate) -> Refusal | None:
    """Count one request against ``rate`` under ``key``; return the refusal when it is over."""
    now_ms = _now_ms()
    store = _cache_count if settings.PORCHLIGHT["CACHE_THROTTLE"] else _database_count
    count, expires = store(key, rate, now_ms)
    if count <= rate.requests:
        return None
    return Refusal(retry_after=max(1, math.ceil((expires - now_ms) / 1000)))


# --- who is counted --------------------------------------------------------------------------


def _counted(key: str, rate: Rate | None, *, endpoint: Endpoint, client: Client | None) -> Refusal | None:
    """Count one request under ``key`` (``rate`` None: not counted); announce and return a refusal."""
    if rate is None:
        return None
    refusal = _refusal(key, rate)
    if refusal is not None:
        request_refused.send(sender=Client, endpoint=endpoint, client=client)
    return refusal


def client_request_refused(*, client: Client, endpoint: Endpoint) -> Refusal | None:
    """Count a request the endpoint accepted as ``client``'s; return the refusal when over budget."""
    return _counted(f"c:{client.pk}", client.request_rate, endpoint=endpoint, client=client)


def unauthenticated_request_refused(
    *, request: HttpRequest, client_id: str, endpoint: Endpoint
) -> Refusal | None:
    """Count a request whose client did not authenticate, per (named client_id, client address)."""
    # Hashed: keys stay short whatever was sent, and the table holds no addresses.
    digest = hashlib.sha256(f"{client_id}\0{client_ip(request) or ''}".encode()).hexdigest()
    return _counted(f"a:{digest}", settings.PORCHLIGHT["CLIENT_RATE_LIMIT"], endpoint=endpoint, client=None)


def request_refused_for(
    *, request: HttpRequest, identity: ClientIdentity, endpoint: Endpoint
) -> Refusal | None:
    """Count a request against its client's budget, or its sender's when the client was not accepted."""
    if identity.accepted and identity.client is not None:
        return client_request_refused(client=identity.client, endpoint=endpoint)
    return unauthenticated_request_refused(request=request, client_id=identity.client_id, endpoint=endpoint)


@dataclass
class MachineLookup:
    """How a machine request reads its client: introspection's and client_credentials'.

    They read only the client's authentication, grant and token settings
    (``oauth2_validators.MACHINE_CLIENT_FIELDS``), not its browser-flow columns. Introspection
    names the access token it asks about (``access_token_checksum``), which the validator reads in
    the client's statement, before the client is authenticated, and leaves in ``access_token``:
    the view shows it only to a caller that authenticated and may see it (RFC 7662 §2.1, §4).
    """

    access_token_checksum: str | None = None
    # Set when the client's statement read the token too (None: no such access token).
    access_token_read: bool = False
    access_token: AccessToken | None = None


_MACHINE: ContextVar[MachineLookup | None] = ContextVar("porchlight_machine_client_lookup", default=None)


def machine_lookup() -> MachineLookup | None:
    """Return how the client being authenticated is read, when it is for a machine request."""
    return _MACHINE.get()


def identify_client(
    core: Any, request: HttpRequest, *, machine: bool | MachineLookup = False
) -> ClientIdentity:
    """Authenticate the client of ``request`` as oauthlib's token and revocation endpoints do.

    ``core`` is DOT's ``OAuthLibCore`` (a view's ``get_oauthlib_core()``); the oauthlib request is
    the one DOT would build, from its public parts, with the query re-encoded so it always parses,
    and of the headers only the one client authentication reads (RFC 6749 §2.3.1 Basic): DOT
    would copy, and oauthlib decode, every header and the whole WSGI environment. ``machine``:
    the client is read for a machine request (``MachineLookup``; True for one that reads nothing else).
    """
    query = urlencode([(key, request.GET[key]) for key in request.GET])
    uri = f"{request.path}?{query}" if query else request.path
    authorization = request.META.get("HTTP_AUTHORIZATION")
    # Spelled both ways, as DOT's extract_headers does.
    headers = (
        {} if authorization is None else {"HTTP_AUTHORIZATION": authorization, "Authorization": authorization}
    )
    oauth_request = Request(uri, "POST", urlencode(core.extract_body(request)), headers)
    validator = core.server.request_validator
    authenticating = False
    lookup = machine if isinstance(machine, MachineLookup) else MachineLookup() if machine else None
    machine_token = _MACHINE.set(lookup)
    try:
        authenticating = validator.client_authentication_required(oauth_request)
        if authenticating:
            accepted = validator.authenticate_client(oauth_request)
        else:
            accepted = validator.authenticate_client_id(oauth_request.client_id, oauth_request)
    except errors.OAuth2Error:
        # Basic and the body named different clients (RFC 6749 §2.3): no client is accepted.
        accepted = False
    finally:
        _MACHINE.reset(machine_token)
    client: Client | None = vars(oauth_request).get("client")
    client_id = oauth_request.client_id
    return ClientIdentity(
        client=client,
        accepted=bool(accepted),
        client_id=client_id if isinstance(client_id, str) else (client.client_id if client else ""),
        assertion=state_of(oauth_request).authenticated_assertion if accepted else None,
        credentials=credentials_of(oauth_request) if accepted and authenticating else None,
    )


# --- the client found once per request ---------------------------------------------------------

_LOADED: ContextVar[Client | None] = ContextVar("porchlight_loaded_client", default=None)
_ASSERTION: ContextVar[str | None] = ContextVar("porchlight_loaded_assertion", default=None)
_AUTHENTICATED: ContextVar[Credentials | None] = ContextVar("porchlight_loaded_credentials", default=None)


@contextmanager
def client_loaded(
    client: Client | None, *, assertion: str | None = None, credentials: Credentials | None = None
) -> Iterator[None]:
    """Let the validator reuse ``client``, already looked up, for the rest of this request.

    ``assertion``: the client assertion that authenticated it here; its jti is spent already,
    so the validator accepts it again within this request only (client_auth.py).
    ``credentials``: what the client authenticated with here (its secret or assertion checked),
    so the validator need not check the same credentials again; other credentials it checks.
    """
    token = _LOADED.set(client)
    assertion_token = _ASSERTION.set(assertion if client is not None else None)
    authenticated_token = _AUTHENTICATED.set(credentials if client is not None else None)
    try:
        yield
    finally:
        _AUTHENTICATED.reset(authenticated_token)
        _ASSERTION.reset(assertion_token)
        _LOADED.reset(token)


def identity_loaded(identity: ClientIdentity) -> AbstractContextManager[None]:
    """Return ``client_loaded`` for what ``identify_client`` found."""
    return client_loaded(identity.client, assertion=identity.assertion, credentials=identity.credentials)


def loaded_assertion(client: Client) -> str | None:
    """Return the assertion ``client_loaded`` says authenticated ``client`` in this request."""
    loaded = _LOADED.get()
    return _ASSERTION.get() if loaded is not None and loaded.pk == client.pk else None


def loaded_authenticated(request: Request) -> Client | None:
    """Return the client that authenticated earlier with the credentials ``request`` carries, or None."""
    credentials = _AUTHENTICATED.get()
    return _LOADED.get() if credentials is not None and credentials == credentials_of(request) else None


def loaded_client(client_id: str) -> Client | None:
    """Return the client ``client_loaded`` holds when it is the one ``client_id`` names."""
    client = _LOADED.get()
    return client if client is not None and client.client_id == client_id else None


# --- the answer --------------------------------------------------------------------------------


def too_many_requests(refusal: Refusal) -> JsonResponse:
    """Return the 429 answer (RFC 6585 §4) for ``refusal``, in the endpoints' JSON error shape."""
    response = JsonResponse(
        {
            "error": ERROR,
            "error_description": (
                f"The request budget for this client is used up. Try again in {refusal.retry_after} seconds."
            ),
        },
        status=429,
    )
    response["Retry-After"] = str(refusal.retry_after)
    # RFC 6749 §5.1: token endpoint answers are not stored; nor is a refusal that soon expires.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def rate_counts_ended() -> QuerySet[ClientRequestCount]:
    """Return the counts whose window has ended, for housekeeping to delete."""
    return ClientRequestCount.objects.filter(expires__lte=_now_ms())
