"""An emergency key rotation on a cluster: no node signs with a key another node does not publish."""

import json
import threading
import time
from types import SimpleNamespace

import requests
from jwcrypto import jwk, jwt

from oidc_provider import keys, rotation
from tests.cluster import gunicorn_node, manage, node_environment, scratch_database
from tests.tokens import kid_of

CACHE_SECONDS = 3


def access_token(base: str, client: dict) -> str:
    response = requests.post(
        base + "/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def verifies_against(token: str, base: str) -> str | None:
    """Return the token's kid if ``base``'s JWKS (fetched now) verifies it, else None."""
    key_set = jwk.JWKSet.from_json(requests.get(base + "/o/jwks/", timeout=10).text)
    try:
        checked = jwt.JWT(jwt=token, key=key_set, algs=["RS256"], check_claims={})
    except Exception:
        return None
    return json.loads(checked.header)["kid"]


def test_rotatekeys_now_new_key_listed_by_every_node_before_any_signs(tmp_path):
    with scratch_database(tmp_path, migrated=True) as database_url:
        env = node_environment(
            tmp_path,
            database_url,
            ISSUER="http://127.0.0.1:8000",
            METADATA_CACHE_SECONDS=str(CACHE_SECONDS),
        )
        manage(env, "rotatekeys", "--algorithm", "RS256")
        client = json.loads(
            # The loops below ask for tokens as fast as they can: no per-client budget to run out of.
            manage(
                env,
                "createclient",
                "Backend",
                "--grant-type",
                "client_credentials",
                "--rate-limit",
                "unlimited",
                "--json",
            )
        )
        with (
            gunicorn_node(env, tmp_path / "a.log") as node_a,
            gunicorn_node(env, tmp_path / "b.log") as node_b,
        ):
            old_kid = verifies_against(access_token(node_a, client), node_b)
            assert old_kid
            # The nodes load the key set at different moments, as busy nodes do.
            time.sleep(CACHE_SECONDS / 2)
            assert verifies_against(access_token(node_b, client), node_a) == old_kid

            failures: list[str] = []
            kids: list[str] = []
            latest: dict[str, str] = {}  # the last kid each node signed with
            stop = threading.Event()

            def issue_and_cross_verify(issuer: str, verifier: str) -> None:
                while not stop.is_set():
                    try:
                        token = access_token(issuer, client)
                    except AssertionError as refused:
                        failures.append(f"{issuer} issued no token: {refused}")
                        return
                    kid = verifies_against(token, verifier)
                    if kid is None:
                        failures.append(f"{issuer} signed with {kid_of(token)}, unknown to {verifier}")
                    else:
                        kids.append(kid)
                        latest[issuer] = kid

            workers = [
                threading.Thread(target=issue_and_cross_verify, args=(node_a, node_b)),
                threading.Thread(target=issue_and_cross_verify, args=(node_b, node_a)),
            ]
            for worker in workers:
                worker.start()
            try:
                time.sleep(0.5)
                rotated = manage(env, "rotatekeys", "--now", "--algorithm", "RS256")
                assert "promoted" in rotated
                # Until both nodes sign with the new key: every moment a node could still sign
                # with a key the other does not list has then been crossed by the loops.
                deadline = time.monotonic() + 3 * CACHE_SECONDS + 3
                while time.monotonic() < deadline and not all(
                    latest.get(node, old_kid) != old_kid for node in (node_a, node_b)
                ):
                    time.sleep(0.1)
            finally:
                stop.set()
                for worker in workers:
                    worker.join(timeout=30)

            assert not failures, f"{len(failures)} of {len(failures) + len(kids)}: {failures[:3]}"
            # The rotation took effect on both nodes: the last tokens are signed by the new key.
            new_kid = kids[-1]
            assert new_kid != old_kid
            assert verifies_against(access_token(node_a, client), node_b) == new_kid
            assert verifies_against(access_token(node_b, client), node_a) == new_kid


def test_keys_rotate_forced_new_key_is_published_before_it_signs(settings, db, monkeypatch):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "KEY_PROPAGATION_SECONDS": 60}
    rotation.keys_rotate(algorithms=["RS256"])
    old_kid = keys.key_set().active["RS256"][0]

    steps = rotation.keys_rotate(force=True, algorithms=["RS256"])

    new_kid = next(step.kid for step in steps if step.action == "promoted")
    published = {key["kid"] for key in keys.key_set().jwks["keys"]}
    assert {old_kid, new_kid} <= published
    assert kid_of(keys.sign({"sub": "x"}, algorithm="RS256")) == old_kid
    # The propagation over (the worker's clock a minute on, not the test's wall time): the new key signs.
    later = time.time() + 61
    monkeypatch.setattr(keys, "time", SimpleNamespace(time=lambda: later, monotonic=time.monotonic))
    assert kid_of(keys.sign({"sub": "x"}, algorithm="RS256")) == new_kid
