"""Two nodes on one database: a key added by another process is listed within the cache bound.

Discovery and the JWKS are answered in front of Django from the bytes of the last answer
(ops/documents.py); those must not outlive ``PORCHLIGHT_METADATA_CACHE_SECONDS`` on any node.
"""

import json
import time

import requests

from tests.cluster import gunicorn_node, manage, node_environment, scratch_database

CACHE_SECONDS = 2


def kids(base: str) -> set[str]:
    response = requests.get(base + "/o/jwks/", timeout=10)
    assert response.status_code == 200
    return {key["kid"] for key in response.json()["keys"]}


def discovery_algorithms(base: str) -> list[str]:
    document = requests.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()
    return document["id_token_signing_alg_values_supported"]


def test_published_documents_list_a_key_rotated_elsewhere_within_the_bound(tmp_path):
    with scratch_database(tmp_path, migrated=True) as database_url:
        env = node_environment(
            tmp_path,
            database_url,
            ISSUER="http://127.0.0.1:8000",
            METADATA_CACHE_SECONDS=str(CACHE_SECONDS),
        )
        manage(env, "rotatekeys", "--algorithm", "RS256")
        with (
            gunicorn_node(env, tmp_path / "a.log", workers=2) as node_a,
            gunicorn_node(env, tmp_path / "b.log", workers=2) as node_b,
        ):
            before = kids(node_a)
            assert kids(node_b) == before
            assert "ES256" not in discovery_algorithms(node_a)
            # Both nodes answer from kept bytes now, many times over.
            for _ in range(20):
                assert kids(node_a) == before and kids(node_b) == before
            # Another process (an operator's command) adds keys: the nodes are not told.
            manage(env, "rotatekeys", "--now", "--algorithm", "RS256")
            manage(env, "rotatekeys", "--algorithm", "ES256")  # the first ES256 key: active at once
            added = json.loads(manage(env, "shell", "-v0", "-c", _KIDS))
            assert set(added) > before
            # Within the bound (and a second for the request itself), every worker of both nodes
            # lists them: ask each node more times than it has workers.
            time.sleep(CACHE_SECONDS + 1)
            for node in (node_a, node_b):
                for _ in range(8):
                    assert kids(node) == set(added)
                    assert "ES256" in discovery_algorithms(node)


_KIDS = (
    "import json; from oidc_provider.models import SigningKey; "
    "print(json.dumps(list(SigningKey.objects.values_list('kid', flat=True))))"
)
