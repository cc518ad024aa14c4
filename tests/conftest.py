"""Shared fixtures: users, clients, keys, and one ``validate_id_token()`` helper; the e2e marker."""

import ast
import base64
import functools
import hashlib
import inspect
import json
import os
import secrets
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import redis
from django.db import connection
from django.http import HttpResponseBase
from django.test import Client as BrowserClient
from django.utils import timezone
from jwcrypto import jwk, jwt

from accounts.mfa.models import RecoveryCodeDevice
from oidc_provider import custom_claims, keys, response_types, rotation
from oidc_provider.models import Client
from oidc_provider.services import client_create
from tests.cluster import keep_migrated_copy, migrate_test_database_once, migrated_test_database, redis_server
from tests.logout_receiver import LogoutReceiver
from tests.tokens import half_hash, header_of

ISSUER = "http://127.0.0.1:8000"

# Races are reproduced on PostgreSQL (make test runs the suite on both): on SQLite the live
# server's threads share the in-memory test database through one connection, so concurrent
# requests cannot overlap there.
concurrent_database = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="concurrency needs a database with its own connection per request (PostgreSQL run)",
)
PASSWORD = "correct horse battery staple"


def pytest_configure(config) -> None:
    # The live server serves with the real settings, before any fixture can change STATIC_ROOT;
    # whitenoise warns on every request when that folder is missing (a fresh clone has no var/).
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


# --- the e2e marker ---------------------------------------------------------------------------
#
# A test is end-to-end when it needs more than the test client: the provider on a live server or
# under gunicorn, a second node, headless Chromium, a real RP program, or a server of its own
# (PostgreSQL, Redis, slapd). Such tests are marked here, never by hand, so none can be left out of
# `pytest -m e2e` or slip into the fast `pytest -m "not e2e"`: everything under the directories
# below, everything that uses one of the fixtures, and everything whose test function, fixtures,
# or the test helpers they call start one of the servers in ``_server_starters()``. A fixture that
# asks for a server only for one of its params marks that param (``throttle_store``). Stand-ins
# the test runs in its own process for an RP's endpoint (tests/logout_receiver.py) do not count.

E2E_DIRECTORIES = ("tests/e2e/", "tests/clusters/")
E2E_FIXTURES = {"live_server", "redis_url"}


def _server_starters() -> list:
    from tests import cluster, rp, slapd
    from tests.e2e import conftest as e2e

    return [
        cluster.PostgresCluster,
        cluster.postgres_cluster,
        cluster.gunicorn_node,
        cluster.task_worker,
        cluster.redis_server,
        slapd.slapd_server,
        rp.serve_asgi,
        rp.NodeRP,
        e2e.chromium_context,
    ]


def _own_code(function) -> list:
    """Return the code objects of ``function`` and of everything defined inside it."""
    found, pending = [], [getattr(inspect.unwrap(function), "__code__", None)]
    while pending:
        code = pending.pop()
        if code is not None:
            found.append(code)
            pending.extend(const for const in code.co_consts if inspect.iscode(const))
    return found


def _starts_a_server(function, starters: list, seen: set) -> bool:
    """Whether ``function``, or a test helper it names, starts one of ``starters``."""
    function = inspect.unwrap(function)
    if id(function) in seen:
        return False
    seen.add(id(function))
    names = {name for code in _own_code(function) for name in code.co_names}
    namespace = getattr(function, "__globals__", {})
    for name in names:
        value = namespace.get(name)
        if inspect.ismodule(value) and value.__name__.startswith("tests."):
            # module.helper(...): the helper's name is among the names too.
            candidates = [getattr(value, other, None) for other in names]
        else:
            candidates = [value]
        for candidate in candidates:
            # Fixtures count through the test's own fixture closure, not because a name matches.
            if candidate is None or hasattr(candidate, "_fixture_function_marker"):
                continue
            if any(candidate is starter for starter in starters):
                return True
            if getattr(candidate, "__module__", "").startswith("tests"):
                if inspect.isclass(candidate):
                    members = [member for member in vars(candidate).values() if inspect.isfunction(member)]
                elif callable(candidate):
                    members = [candidate]
                else:
                    members = []
                if any(_starts_a_server(member, starters, seen) for member in members):
                    return True
    return False


def _is_e2e(item, starters: list, verdicts: dict[int, bool]) -> bool:
    if any(item.nodeid.startswith(directory) for directory in E2E_DIRECTORIES):
        return True
    if E2E_FIXTURES & set(item.fixturenames):
        return True
    functions = [item.function] + [
        definitions[-1].func
        for name, definitions in item._fixtureinfo.name2fixturedefs.items()
        if definitions and name in item.fixturenames
    ]
    for function in functions:
        key = id(inspect.unwrap(function))
        if key not in verdicts:
            verdicts[key] = _starts_a_server(function, starters, set())
        if verdicts[key]:
            return True
    return False


def pytest_collection_modifyitems(config, items) -> None:
    starters = _server_starters()
    verdicts: dict[int, bool] = {}  # by id() of a test or fixture function
    for item in items:
        if _is_e2e(item, starters, verdicts):
            item.add_marker(pytest.mark.e2e)
    # Tests that start servers, nodes or Chromium take seconds each, the rest milliseconds: handed
    # out first (a stable sort keeps each group's order), they run beside each other and beside the
    # quick ones, instead of one of them keeping the run waiting at its end on a single worker.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


# --- pytest-xdist: which tests go to a worker together -----------------------------------------
#
# One test at a time, as `--dist load` hands them out, except that a module with a module-scoped
# fixture (a server started once for all its tests: gunicorn, two nodes) goes whole to one worker,
# which starts it once. The controller sees only test ids, so the module's source tells.


@functools.cache
def _has_module_fixture(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and any(
                    keyword.arg == "scope" and getattr(keyword.value, "value", None) == "module"
                    for keyword in decorator.keywords
                ):
                    return True
    return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]  # xdist ships no types

    class ModuleFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if _has_module_fixture(config.rootpath / path) else nodeid

    return ModuleFixtureScheduling(config, log)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, tmp_path_factory) -> str:
    """The default database's name before pytest-django makes the test database.

    Runs just before it does: in a `pytest -n` run, only the first process migrates the test
    database, the others copy it (tests/cluster.py, "one migration per run"). The workers'
    temporary folders share a parent for the run, and for that run only.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        migrate_test_database_once(tmp_path_factory.getbasetemp().parent)
    return connection.settings_dict["NAME"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_modify_db_settings, django_db_blocker):
    """pytest-django's test database, and a copy of it as migrations left it (tests/cluster.py)."""
    migrated_test_database()
    # pytest-django makes the test database only when a collected test asks for the database;
    # without one (node tests alone) the connection still names the configured database, which
    # is never copied: the nodes' databases are then migrated from nothing (tests/cluster.py).
    if connection.settings_dict["NAME"] != django_db_modify_db_settings:
        with django_db_blocker.unblock():
            keep_migrated_copy()


DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


@pytest.fixture(scope="session", autouse=True)
def _database_before_nodes(request):
    # A run with tests that use the database or start nodes makes the test database before its
    # first test, so the nodes' databases are copies of it (keep_migrated_copy) even when a
    # node's test comes first; a run without any (tests/docs alone) makes none.
    if any(
        item.get_closest_marker("django_db")
        or item.get_closest_marker("e2e")
        or DATABASE_FIXTURES & set(item.fixturenames)
        for item in request.session.items
    ):
        request.getfixturevalue("django_db_setup")


@pytest.fixture(autouse=True)
def _test_settings(settings, monkeypatch):
    # Argon2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    # So are the 100,000 PBKDF2 rounds of a recovery code; tests make many sets. Each set keeps
    # the rounds it was made with, and checks typed codes with those.
    monkeypatch.setattr(RecoveryCodeDevice._meta.get_field("iterations"), "default", 100)
    from ipaddress import ip_network

    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        # One process whose key cache each rotation clears: a forced rotation's new key may sign at
        # once (tests/clusters/test_rotation_cluster.py covers the wait that several nodes need).
        "KEY_PROPAGATION_SECONDS": 0,
        # The apps' endpoints in tests (tests/logout_receiver.py) listen on loopback, which outbound
        # requests reach only when allowed, as a deployment allows its private network
        # (ground/outbound.py; tests/security/test_outbound_requests.py allows nothing).
        "OUTBOUND_ALLOWED_NETWORKS": [ip_network("127.0.0.0/8"), ip_network("::1/128")],
    }
    # No collectstatic before tests: serve static files from the source folders (and give
    # whitenoise an existing root, so a fresh clone does not warn on every request).
    settings.STATIC_ROOT = settings.BASE_DIR / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    keys.clear_cache()
    yield
    keys.clear_cache()


@pytest.fixture(autouse=True)
def _fresh_response_types():
    # Which response types some client turned on (discovery) is cached like the claim catalogue.
    response_types.enabled_forget()
    yield
    response_types.enabled_forget()


@pytest.fixture(autouse=True)
def _fresh_claim_catalogue():
    # A test's claim definitions are rolled back with its database, not forgotten by the cache.
    custom_claims.catalogue_forget()
    yield
    custom_claims.catalogue_forget()


class KeyPool:
    """Private keys generated once per test process and handed out again to each test's first keys.

    Most tests start with a key for every algorithm, and the two RSA keys among them take a tenth
    of a second to generate. While ``lending()``, ``jwk.JWK.generate`` returns this process's earlier keys of
    the same kind, a different one for each call, so no two keys of one test are alike.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple, list[jwk.JWK]] = defaultdict(list)

    @contextmanager
    def lending(self) -> Iterator[None]:
        generate = jwk.JWK.generate
        lent: Counter[tuple] = Counter()

        def lend(**params) -> jwk.JWK:
            kind = tuple(sorted(params.items()))
            if lent[kind] == len(self._keys[kind]):
                self._keys[kind].append(generate(**params))
            lent[kind] += 1
            return self._keys[kind][lent[kind] - 1]

        # MonkeyPatch puts back the class's own attribute (the classmethod), not the bound method.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(jwk.JWK, "generate", staticmethod(lend))
            yield


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    return KeyPool()


@pytest.fixture(scope="session", autouse=True)
def _rsa_private_keys_checked_once() -> Iterator[None]:
    # Each test starts with an empty key cache, so the first signature of every test decrypts its
    # RSA key from the database again, and cryptography checks the key's numbers each time it is
    # loaded: 60 ms of CPU per 2048-bit key, hundreds of times per run with the pool's same keys.
    # A key with the same numbers is checked once per process; any other key is checked as loaded.
    checked: dict[tuple, Any] = {}
    load = jwk.JWK._rsa_pri  # type: ignore[attr-defined]  # jwcrypto's loader of an RSA private key

    def rsa_private(self: jwk.JWK) -> Any:
        numbers = tuple(self.get(name) for name in ("n", "e", "d", "p", "q", "dp", "dq", "qi"))
        if numbers not in checked:
            checked[numbers] = load(self)
        return checked[numbers]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jwk.JWK, "_rsa_pri", rsa_private)
        yield


@pytest.fixture
def signing_keys(db, key_pool):
    """Active keys for every algorithm (rotations the test runs itself generate new ones)."""
    with key_pool.lending():
        rotation.keys_rotate()
    return keys.key_set()


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="alice",
        password=PASSWORD,
        email="alice@example.com",
        email_verified=True,
        first_name="Alice",
        last_name="Liddell",
        phone_number="+441632960000",
        address_locality="Oxford",
        address_country="GB",
    )


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    model: Client


@pytest.fixture
def make_client(db):
    def make(
        *,
        name: str = "Test app",
        redirect_uris: Sequence[str] = ("https://rp.example.com/callback",),
        post_logout_redirect_uris: Sequence[str] = ("https://rp.example.com/logged-out",),
        **options: Any,
    ) -> RegisteredClient:
        """Register a client with ``client_create``; ``options`` are its other keyword arguments."""
        client, secret = client_create(
            name=name,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            **options,
        )
        return RegisteredClient(client.client_id, secret, redirect_uris[0] if redirect_uris else "", client)

    return make


@pytest.fixture
def rp(make_client, signing_keys):
    """A confidential relying party with the default grant types."""
    return make_client()


def basic_auth(client_id: str, secret: str) -> str:
    """Return an HTTP Basic Authorization value; RFC 6749 §2.3.1 form-encodes both parts first."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class AuthorizationResult:
    code: str
    verifier: str
    nonce: str
    state: str
    response: HttpResponseBase


@pytest.fixture
def browser(db) -> BrowserClient:
    return BrowserClient()


@pytest.fixture
def logged_in(browser, user) -> BrowserClient:
    assert browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    return browser


def authorize(
    browser, registered: RegisteredClient, *, scope="openid profile email offline_access", allow=True, **extra
) -> AuthorizationResult:
    """Run the authorization request through consent; return the code and PKCE verifier."""
    verifier, challenge = pkce_pair()
    nonce, state = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    response = browser.get("/o/authorize/", params)
    if response.status_code == 200 and b"request_id" in response.content:
        request_id = response.context["request_id"]
        data = {"request_id": request_id, "allow" if allow else "deny": "1"}
        response = browser.post("/o/authorize/consent/", data)
    assert response.status_code == 302, response.content[:500]
    query = query_of(response["Location"])
    return AuthorizationResult(query.get("code", ""), verifier, nonce, state, response)


def exchange(http, registered: RegisteredClient, result: AuthorizationResult, **extra: str):
    """Redeem ``result``'s code as ``registered`` would, with any ``extra`` parameters."""
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": registered.redirect_uri,
        "code_verifier": result.verifier,
        "client_id": registered.client_id,
    }
    if registered.client_secret:
        data["client_secret"] = registered.client_secret
    return http.post("/o/token/", {**data, **extra})


def validate_id_token(
    token: str,
    *,
    jwks: dict,
    audience: str,
    issuer: str = ISSUER,
    nonce: str | None = None,
    access_token: str | None = None,
) -> dict:
    """Verify an ID token against a JWKS the way a strict RP does, and return its claims."""
    header = header_of(token)
    assert header["kid"], "every ID token names its key"
    key_set = jwk.JWKSet.from_json(json.dumps(jwks))
    key = key_set.get_key(header["kid"])
    assert key is not None, "the kid must be published in JWKS"
    parsed = jwt.JWT(jwt=token, key=key, algs=[header["alg"]], expected_type="JWS")
    claims = json.loads(parsed.claims)
    assert claims["iss"] == issuer
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert audience in aud
    assert claims["exp"] > claims["iat"]
    assert isinstance(claims["sub"], str) and claims["sub"]
    if nonce is not None:
        assert claims["nonce"] == nonce
    if access_token is not None:
        assert claims["at_hash"] == half_hash(access_token, header["alg"])
    return claims


STAFF_PASSWORD = "root-password-123"


def sign_in(browser: BrowserClient, username: str, password: str) -> BrowserClient:
    """Sign ``browser`` in through the login page, the one way into Porchlight (admin included)."""
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content[:500]
    return browser


@pytest.fixture
def root(db, django_user_model):
    """A superuser without a second factor."""
    return django_user_model.objects.create_superuser("root", "root@example.com", STAFF_PASSWORD)


@pytest.fixture
def staff(root) -> BrowserClient:
    """A browser signed in as the superuser ``root``."""
    return sign_in(BrowserClient(), "root", STAFF_PASSWORD)


@pytest.fixture
def receiver():
    """A real back-channel logout receiver on a loopback port (tests/logout_receiver.py)."""
    running = LogoutReceiver().start()
    yield running
    running.stop()


@pytest.fixture
def initial_token(db) -> str:
    """An initial access token for dynamic client registration (RFC 7591 §3)."""
    from datetime import timedelta

    from django.utils import timezone

    from oidc_provider.registration import registration_token_create

    _, value = registration_token_create(
        label="partner onboarding", expires=timezone.now() + timedelta(days=1)
    )
    return value


class Clock:
    """The provider's notion of now (``django.utils.timezone.now``), held still and moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        # Called with the seconds of every advance: stores with clocks of their own (Redis) age too.
        self.on_advance: list[Callable[[float], None]] = []

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        for follow in self.on_advance:
            follow(seconds)

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Stand in for the wall clock, so a test moves time on instead of sleeping."""
    current = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", lambda: current.now)
    return current


@pytest.fixture
def later(monkeypatch) -> Callable[[float], None]:
    """Return ``advance(seconds)``, which moves the running clock on instead of sleeping."""
    offset = timedelta()
    real_now = timezone.now

    def advance(seconds: float) -> None:
        nonlocal offset
        offset += timedelta(seconds=seconds)

    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return advance


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole run."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server (`make redis` installs it)")
    with redis_server(tmp_path_factory.mktemp("redis") / "redis.log") as url:
        yield url


@dataclass
class ThrottleStore:
    """Where the login throttle counts failures in a test: the database, or a real Redis."""

    name: str
    redis_url: str = ""

    def age(self, seconds: int) -> None:
        """Let ``seconds`` pass for Redis's expiring keys, as a test's stand-in clock does for the rest."""
        if not self.redis_url:
            return
        client = redis.Redis.from_url(self.redis_url)
        for key in client.scan_iter():
            left = client.pttl(key)
            if left < 0:
                continue  # no expiry
            if left <= seconds * 1000:
                client.delete(key)
            else:
                client.pexpire(key, left - seconds * 1000)


# The Redis variant starts a redis-server, so it is end-to-end (the fixture asks for it only then).
@pytest.fixture(params=["database", pytest.param("cache", marks=pytest.mark.e2e)])
def throttle_store(request, settings) -> ThrottleStore:
    """Count login failures in the database, then in Redis (PORCHLIGHT_CACHE_THROTTLE)."""
    if request.param == "database":
        return ThrottleStore("database")
    url = request.getfixturevalue("redis_url")
    redis.Redis.from_url(url).flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "porchlight",
        }
    }
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "CACHE_THROTTLE": True}
    return ThrottleStore("cache", url)
