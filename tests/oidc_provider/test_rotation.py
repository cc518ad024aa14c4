"""Signing key rotation: next -> active -> retired -> removed, as relying parties and operators see it.

Time moves by patching the provider's clocks (``timezone.now`` and ``time.time``), never by
sleeping. ``fetch_jwks()`` drops this worker's key cache first, as its expiry would.
"""

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client as BrowserClient
from django.utils import timezone
from jwcrypto import jwk, jwt

from audit.models import AuditEvent
from oidc_provider import keys, rotation
from oidc_provider.models import KEY_ALGORITHMS, Algorithm, SigningKey
from tests.conftest import (
    PASSWORD,
    Clock,
    RegisteredClient,
    authorize,
    exchange,
    query_of,
    sign_in,
    validate_id_token,
)
from tests.tokens import claims_of, header_of

JWKS = "/o/jwks/"
LOGOUT = "/o/logout/"
LOGGED_OUT = "https://rp.example.com/logged-out"
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock(clock, monkeypatch) -> Clock:
    """The provider's clocks, ``time.time`` (token lifetimes) too, from a whole second."""
    clock.now = clock.now.replace(microsecond=0)
    monkeypatch.setattr("time.time", clock.timestamp)
    return clock


@dataclass
class Issued:
    rp: RegisteredClient
    id_token: str
    access_token: str
    nonce: str

    @property
    def kid(self) -> str:
        return header_of(self.id_token)["kid"]

    @property
    def exp(self) -> int:
        return claims_of(self.id_token)["exp"]


def signed_in() -> BrowserClient:
    """Return a browser in which alice has just signed in (earlier sessions have expired)."""
    return sign_in(BrowserClient(), "alice", PASSWORD)


def issue(rp: RegisteredClient) -> Issued:
    """Run the code flow now and return the tokens the RP receives."""
    result = authorize(signed_in(), rp)
    response = exchange(BrowserClient(), rp, result)
    assert response.status_code == 200, response.content
    body = response.json()
    return Issued(rp, body["id_token"], body["access_token"], result.nonce)


def fetch_jwks() -> dict:
    """GET the JWKS as an RP does once this worker's key cache has expired."""
    keys.clear_cache()
    response = BrowserClient().get(JWKS)
    assert response.status_code == 200
    return response.json()


def kids_of(jwks: dict) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


def validate_access_token(token: str, *, jwks: dict, audience: str) -> dict:
    """Verify a JWT access token against a JWKS as a resource server does (RFC 9068 §4)."""
    header = header_of(token)
    assert header["typ"] == "at+jwt"
    key = jwk.JWKSet.from_json(json.dumps(jwks)).get_key(header["kid"])
    assert key is not None, "the kid must be published in JWKS"
    claims = json.loads(jwt.JWT(jwt=token, key=key, algs=[header["alg"]], expected_type="JWS").claims)
    assert claims["aud"] == audience
    return claims


def assert_unexpired_tokens_verify(issued: list[Issued], clock: Clock) -> set[str]:
    """Check every token still in date against the JWKS served now; return the kids they use."""
    jwks = fetch_jwks()
    used = set()
    for tokens in issued:
        if tokens.exp <= clock.timestamp():
            continue
        validate_id_token(
            tokens.id_token,
            jwks=jwks,
            audience=tokens.rp.client_id,
            nonce=tokens.nonce,
            access_token=tokens.access_token,
        )
        validate_access_token(tokens.access_token, jwks=jwks, audience=tokens.rp.client_id)
        used |= {tokens.kid, header_of(tokens.access_token)["kid"]}
    return used


def assert_logout_returns_to_app(id_token_hint: str) -> None:
    browser = signed_in()
    params = {"id_token_hint": id_token_hint, "post_logout_redirect_uri": LOGGED_OUT, "state": "s-42"}
    # The hint verifies (a bad one gets an error page); it is from an earlier sign-in, so the
    # user is asked first (RP-Initiated Logout 1.0 §2).
    page = browser.get(LOGOUT, params)
    assert page.status_code == 200 and b"Sign out" in page.content
    response = browser.post(LOGOUT, {**params, "allow": "true"})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGGED_OUT + "?")
    assert query_of(response["Location"]) == {"state": "s-42"}
    assert browser.get("/accounts/").status_code != 200, "the session has ended"


def rotate(clock: Clock, at: datetime, **options) -> set[tuple[str, str]]:
    """Move the clock to ``at``, run a rotation there, and return (algorithm, action) per step."""
    clock.now = at
    return {(step.algorithm, step.action) for step in rotation.keys_rotate(now=at, **options)}


def each(*actions: str) -> set[tuple[str, str]]:
    return {(algorithm, action) for algorithm in KEY_ALGORITHMS for action in actions}


def signing_kids(rps: dict[str, RegisteredClient]) -> dict[str, str]:
    """Issue tokens for each algorithm's RP; return the kid each ID token names."""
    return {algorithm: issue(rp).kid for algorithm, rp in rps.items()}


@pytest.fixture
def rps(make_client, user) -> dict[str, RegisteredClient]:
    """One relying party per ID token algorithm; every one gets JWT access tokens (RS256)."""
    return {
        algorithm: make_client(name=f"{algorithm} app", algorithm=algorithm, skip_consent=True)
        for algorithm in KEY_ALGORITHMS
    }


def test_rotation_full_lifecycle_keeps_every_token_and_logout_hint_valid(clock, rps):
    period, lead, kept = rotation.rotation_period(), rotation.publish_lead(), rotation.retention()
    start = clock.now
    issued: list[Issued] = []

    def issue_all() -> list[Issued]:
        batch = [issue(rp) for rp in rps.values()]
        issued.extend(batch)
        return batch

    # First run: one active key per algorithm, published, signing.
    assert rotate(clock, start) == each("created active")
    first = {key["alg"]: key["kid"] for key in fetch_jwks()["keys"]}
    assert sorted(first) == sorted(KEY_ALGORITHMS)
    batch = issue_all()
    assert {tokens.kid for tokens in batch} == set(first.values())
    assert {header_of(tokens.access_token)["kid"] for tokens in batch} == {first[Algorithm.RS256]}
    assert assert_unexpired_tokens_verify(issued, clock) == set(first.values())

    # Just before the publish lead of the due date: nothing to do.
    assert rotate(clock, start + period - lead - SECOND) == set()
    issue_all()
    assert kids_of(fetch_jwks()) == set(first.values())
    assert assert_unexpired_tokens_verify(issued, clock) == set(first.values())

    # At due date minus the publish lead: a next key is published but does not sign.
    assert rotate(clock, start + period - lead) == each("created next")
    published_early = fetch_jwks()
    upcoming = {key["alg"]: key["kid"] for key in published_early["keys"] if key["kid"] not in first.values()}
    assert sorted(upcoming) == sorted(KEY_ALGORITHMS)
    batch = issue_all()
    assert {tokens.kid for tokens in batch} == set(first.values())
    assert assert_unexpired_tokens_verify(issued, clock) == set(first.values())

    # One second before the due date: still the first keys.
    assert rotate(clock, start + period - SECOND) == set()
    old_hints = [tokens.id_token for tokens in issue_all()]
    assert {header_of(hint)["kid"] for hint in old_hints} == set(first.values())
    assert assert_unexpired_tokens_verify(issued, clock) == set(first.values())

    # Due, and published for the whole lead: promoted; the first keys retire but stay published.
    assert rotate(clock, start + period) == each("retired", "promoted")
    assert kids_of(fetch_jwks()) == set(first.values()) | set(upcoming.values())
    batch = issue_all()
    assert {tokens.kid for tokens in batch} == set(upcoming.values())
    # An RP still holding the key set it fetched when the next key was published verifies them.
    for tokens in batch:
        validate_id_token(tokens.id_token, jwks=published_early, audience=tokens.rp.client_id)
        validate_access_token(tokens.access_token, jwks=published_early, audience=tokens.rp.client_id)
    # Tokens signed before the rotation are still in date, and still verify.
    assert assert_unexpired_tokens_verify(issued, clock) == set(first.values()) | set(upcoming.values())
    assert_logout_returns_to_app(old_hints[0])

    # Until the retention has passed, the retired keys stay published.
    assert rotate(clock, start + period + kept - SECOND) == set()
    assert kids_of(fetch_jwks()) == set(first.values()) | set(upcoming.values())
    issue_all()
    assert assert_unexpired_tokens_verify(issued, clock) == set(upcoming.values())
    assert_logout_returns_to_app(old_hints[1])

    # After the retention, every token the retired keys signed has expired: they are removed.
    assert rotate(clock, start + period + kept) == each("removed")
    assert kids_of(fetch_jwks()) == set(upcoming.values())
    batch = issue_all()
    assert {tokens.kid for tokens in batch} == set(upcoming.values())
    assert assert_unexpired_tokens_verify(issued, clock) == set(upcoming.values())
    assert all(tokens.exp <= clock.timestamp() for tokens in issued if tokens.kid in first.values())


def test_rotation_next_key_waits_for_publish_lead_when_active_key_is_overdue(clock, rps):
    lead = rotation.publish_lead()
    rotate(clock, clock.now)
    first = signing_kids(rps)

    # The cron job did not run for a month past the due date: publish first, promote later.
    overdue = clock.now + rotation.rotation_period() + timedelta(days=30)
    assert rotate(clock, overdue) == each("created next")
    upcoming = kids_of(fetch_jwks()) - set(first.values())
    assert len(upcoming) == len(KEY_ALGORITHMS)
    assert signing_kids(rps) == first

    assert rotate(clock, overdue + lead - SECOND) == set()
    assert signing_kids(rps) == first

    assert rotate(clock, overdue + lead) == each("retired", "promoted")
    assert set(signing_kids(rps).values()) == upcoming


def test_rotation_next_key_published_late_waits_for_publish_lead(clock, rps):
    rotate(clock, clock.now)
    first = signing_kids(rps)
    due = clock.now + rotation.rotation_period()
    # A next RS256 key was published (say, imported) only a second before the due date.
    clock.now = due - SECOND
    late = keys.signing_key_create(algorithm=Algorithm.RS256)
    # The model's default reads the real clock, not the patched one.
    SigningKey.objects.filter(pk=late.pk).update(created=clock.now)

    assert (Algorithm.RS256, "promoted") not in rotate(clock, due)
    assert signing_kids(rps)[Algorithm.RS256] == first[Algorithm.RS256]

    assert (Algorithm.RS256, "promoted") not in rotate(clock, due - 2 * SECOND + rotation.publish_lead())
    assert (Algorithm.RS256, "promoted") in rotate(clock, due - SECOND + rotation.publish_lead())
    assert signing_kids(rps)[Algorithm.RS256] == late.kid


def test_rotation_force_promotes_at_once(clock, rps):
    rotate(clock, clock.now)
    first = signing_kids(rps)

    assert rotate(clock, clock.now + timedelta(days=1), force=True) == each(
        "created next", "retired", "promoted"
    )
    now_signing = signing_kids(rps)
    assert set(now_signing.values()).isdisjoint(first.values())
    assert kids_of(fetch_jwks()) == set(first.values()) | set(now_signing.values())


def test_rotatekeys_first_run_creates_active_keys_and_audits_each(client, db):
    out = StringIO()
    call_command("rotatekeys", stdout=out)
    lines = out.getvalue().splitlines()
    published = client.get(JWKS).json()["keys"]
    assert sorted(lines) == sorted(f"{key['alg']}: created active {key['kid']}" for key in published)
    events = AuditEvent.objects.all()
    assert sorted((event.action, event.target) for event in events) == sorted(
        ("signing_key.created_active", f"{key['alg']} {key['kid']}") for key in published
    )
    assert {event.actor_label for event in events} == {"rotatekeys command"}


def test_rotatekeys_nothing_due_says_so_and_audits_nothing(signing_keys):
    before = AuditEvent.objects.count()
    out = StringIO()
    call_command("rotatekeys", stdout=out)
    assert out.getvalue() == "Nothing was due.\n"
    assert AuditEvent.objects.count() == before


def test_rotatekeys_now_forces_a_rotation_and_prints_each_step(rp, logged_in, client):
    before = {key["alg"]: key["kid"] for key in client.get(JWKS).json()["keys"]}
    audited = AuditEvent.objects.filter(action__startswith="signing_key.").count()
    out = StringIO()
    call_command("rotatekeys", "--now", stdout=out)

    printed = out.getvalue().splitlines()
    assert "Forced rotation" in printed[-1]
    steps = printed[:-1]
    for algorithm in KEY_ALGORITHMS:
        assert f"{algorithm}: retired {before[algorithm]}" in steps
    promoted = {line.split()[0].rstrip(":"): line.split()[-1] for line in steps if " promoted " in line}
    assert sorted(promoted) == sorted(KEY_ALGORITHMS)
    # The new RS256 key signs the next ID token; the retired one is still published.
    body = exchange(client, rp, authorize(logged_in, rp)).json()
    assert header_of(body["id_token"])["kid"] == promoted[Algorithm.RS256]
    assert set(before.values()) <= kids_of(client.get(JWKS).json())
    # One audit record per printed step, marked as forced (the sign-in's consent has its own).
    events = list(AuditEvent.objects.filter(action__startswith="signing_key.").order_by("pk")[audited:])
    assert len(events) == len(steps)
    assert {event.action for event in events} == {
        "signing_key.created_next",
        "signing_key.retired",
        "signing_key.promoted",
    }
    assert all(event.detail == {"forced": True} for event in events)
    assert {event.actor_label for event in events} == {"rotatekeys command"}


def test_rotatekeys_algorithm_option_rotates_only_that_algorithm(signing_keys):
    out = StringIO()
    call_command("rotatekeys", "--now", "--algorithm", Algorithm.ES256, stdout=out)
    steps = out.getvalue().splitlines()[:-1]
    assert {line.split(":")[0] for line in steps} == {Algorithm.ES256}
    assert SigningKey.objects.filter(state=SigningKey.State.RETIRED).count() == 1


def test_rotatekeys_when_due_publishes_next_key(clock, signing_keys):
    clock.now += rotation.rotation_period() - rotation.publish_lead()
    out = StringIO()
    call_command("rotatekeys", stdout=out)
    created = out.getvalue().splitlines()
    assert sorted(line.split(":")[0] for line in created) == sorted(KEY_ALGORITHMS)
    assert all(": created next " in line for line in created)
    assert {line.split()[-1] for line in created} <= kids_of(fetch_jwks())


def rotate_concurrently(now: datetime, workers: int = 2) -> list[list[rotation.Step]]:
    """Start ``workers`` rotations at the same instant, each on its own database connection."""
    barrier = threading.Barrier(workers)
    results: list[list[rotation.Step]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(rotation.keys_rotate(now=now, actor_label="cron"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return results


def assert_one_active_key_per_algorithm() -> None:
    for algorithm in KEY_ALGORITHMS:
        assert SigningKey.objects.filter(algorithm=algorithm, state=SigningKey.State.ACTIVE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_rotation_concurrent_first_start_creates_one_key_per_algorithm():
    results = rotate_concurrently(timezone.now())
    assert sorted(len(steps) for steps in results) == [0, len(KEY_ALGORITHMS)]
    assert SigningKey.objects.count() == len(KEY_ALGORITHMS)
    assert_one_active_key_per_algorithm()
    assert AuditEvent.objects.filter(action="signing_key.created_active").count() == len(KEY_ALGORITHMS)


@pytest.mark.django_db(transaction=True)
def test_rotation_concurrent_due_rotation_promotes_once():
    start = timezone.now()
    rotation.keys_rotate(now=start)
    rotation.keys_rotate(now=start + rotation.rotation_period() - rotation.publish_lead())
    assert SigningKey.objects.filter(state=SigningKey.State.NEXT).count() == len(KEY_ALGORITHMS)

    results = rotate_concurrently(start + rotation.rotation_period() + timedelta(days=1))
    assert sorted(len(steps) for steps in results) == [0, 2 * len(KEY_ALGORITHMS)]
    assert_one_active_key_per_algorithm()
    assert SigningKey.objects.filter(state=SigningKey.State.RETIRED).count() == len(KEY_ALGORITHMS)
    assert not SigningKey.objects.filter(state=SigningKey.State.NEXT).exists()
    assert AuditEvent.objects.filter(action="signing_key.promoted").count() == len(KEY_ALGORITHMS)
