"""Discovery, RFC 8414 metadata and JWKS answered in front of Django (ops/documents.py).

Each test sends the same WSGI request to the deployed application (porchlight.wsgi.application,
with the documents in front) and to Django's handler alone, and compares what a client receives.
"""

import io
import sys
from collections.abc import Callable

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from prometheus_client import REGISTRY

from oidc_provider import keys
from oidc_provider.models import Algorithm, SigningKey
from porchlight.wsgi import application, django_application, published_documents

DOCUMENT_PATHS = (
    "/.well-known/openid-configuration",
    "/.well-known/openid-configuration/",
    "/.well-known/oauth-authorization-server",
    "/o/jwks/",
)


def environ(path: str, method: str = "GET", **extra: str) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **extra,
    }


def call(app: Callable, env: dict) -> tuple[str, dict[str, str], bytes]:
    sent: list = []
    result = app(env, lambda status, headers, exc_info=None: sent.extend([status, headers]))
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = sent
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), headers
    return status, dict(headers), body


def without_request_id(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "X-Request-ID"}


class DjangoRequests:
    """Counts the requests that reach Django's request cycle."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **kwargs) -> None:
        self.count += 1


@pytest.fixture
def django_requests():
    counter = DjangoRequests()
    request_started.connect(counter)
    yield counter
    request_started.disconnect(counter)


@pytest.fixture(autouse=True)
def fresh_documents(db, signing_keys):
    # Each test starts with no answer kept, as a new worker does.
    published_documents._entries.clear()
    keys.clear_cache()
    # As Django's test client does: the request cycle must not close the test's connection (and
    # with it the transaction the test runs in) on PostgreSQL.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"REQUEST_METHOD": "HEAD"},
        {"HTTP_ORIGIN": "https://app.example"},
        {"HTTP_X_FORWARDED_PROTO": "https"},
    ],
    ids=["get", "head", "origin", "forwarded-https"],
)
def test_documents_answer_as_django_does_header_by_header(path, extra, django_requests):
    env = {**environ(path), **extra}
    expected = call(django_application, dict(env))
    # The first GET goes through Django, and its answer is kept; the next request reaches no view.
    first = call(application, {**env, "REQUEST_METHOD": "GET"})
    before = django_requests.count
    kept = call(application, dict(env))
    assert django_requests.count == before
    status, headers, body = expected
    assert status.startswith("200 ")
    for answer in (first, kept):
        assert answer[0] == status
        assert without_request_id(answer[1]) == without_request_id(headers)
        assert len(answer[1]["X-Request-ID"]) == 32
    assert first[2] == body if env["REQUEST_METHOD"] == "HEAD" else first[2] == body == kept[2]
    # Gunicorn leaves a HEAD's body out itself (RFC 9110 §9.3.2); the kept answer sends none.
    if env["REQUEST_METHOD"] == "HEAD":
        assert kept[2] == b""
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["ETag"] and headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
def test_documents_if_none_match_gets_the_same_304(path, django_requests):
    etag = call(application, environ(path))[1]["ETag"]
    conditional = environ(path, HTTP_IF_NONE_MATCH=f'"other", {etag}')
    expected = call(django_application, dict(conditional))
    assert expected[0].startswith("304 ")
    call(application, dict(conditional))
    before = django_requests.count
    status, headers, body = call(application, dict(conditional))
    assert django_requests.count == before
    assert (status, without_request_id(headers), body) == (
        expected[0],
        without_request_id(expected[1]),
        b"",
    )
    # An If-None-Match naming another tag gets the document.
    assert call(application, environ(path, HTTP_IF_NONE_MATCH='"other"'))[0].startswith("200 ")


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_documents_other_methods_answer_as_before(path, method):
    call(application, environ(path))  # an answer is kept for GET
    env = environ(path, method, HTTP_ORIGIN="https://app.example")
    expected = call(django_application, dict(env))
    status, headers, body = call(application, dict(env))
    assert status == expected[0]
    assert status.split()[0] in ("204", "403", "405")  # 403: the slash path runs the CSRF check
    assert without_request_id(headers) == without_request_id(expected[1])
    assert body == expected[2]


def test_documents_keep_the_proxy_request_id_and_make_one_otherwise():
    path = "/o/jwks/"
    call(application, environ(path))
    offered = "req-1234abcd"
    assert call(application, environ(path, HTTP_X_REQUEST_ID=offered))[1]["X-Request-ID"] == offered
    # Anything that could inject text into a log line is replaced, as the middleware does.
    replaced = call(application, environ(path, HTTP_X_REQUEST_ID="bad id\n"))[1]["X-Request-ID"]
    assert replaced != "bad id\n" and len(replaced) == 32
    ids = {call(application, environ(path))[1]["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_documents_counted_in_the_metrics_as_before():
    def requests(view: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "porchlight_http_requests_total", {"endpoint": view, "status": status}
        )
        return value or 0.0

    jwks, discovery = "oidc_provider:jwks", "openid-configuration"
    before = requests(jwks, "200"), requests(discovery, "200"), requests(discovery, "304")
    for _ in range(3):
        call(application, environ("/o/jwks/"))
    etag = call(application, environ("/.well-known/openid-configuration"))[1]["ETag"]
    for _ in range(2):
        call(application, environ("/.well-known/openid-configuration", HTTP_IF_NONE_MATCH=etag))
    after = requests(jwks, "200"), requests(discovery, "200"), requests(discovery, "304")
    assert [b - a for a, b in zip(before, after, strict=True)] == [3, 1, 2]


def test_documents_with_query_string_or_bad_host_go_to_django(django_requests):
    call(application, environ("/o/jwks/"))
    before = django_requests.count
    assert call(application, environ("/o/jwks/", QUERY_STRING="x=1"))[0].startswith("200 ")
    assert django_requests.count == before + 1
    # Django refuses a Host not in ALLOWED_HOSTS; nothing kept answers for it.
    for _ in range(2):
        assert call(application, environ("/o/jwks/", HTTP_HOST="evil.example"))[0].startswith("400 ")


def test_documents_list_a_key_rotated_in_this_process_at_once(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "METADATA_CACHE_SECONDS": 3600}
    before = call(application, environ("/o/jwks/"))
    call(application, environ("/.well-known/openid-configuration"))
    keys.signing_key_create(algorithm=Algorithm.ES256)  # forgets this process's key set
    after = call(application, environ("/o/jwks/"))
    assert after[1]["ETag"] != before[1]["ETag"]
    assert len(after[2]) > len(before[2])
    discovery = call(application, environ("/.well-known/openid-configuration"))[2]
    assert b"ES256" in discovery


def test_documents_reloaded_once_the_cache_bound_passes(settings):
    # METADATA_CACHE_SECONDS 0: every request finds the key set due for reloading, as one does
    # once the bound has passed, so a key added by another node (a row written here without
    # telling this process) is listed at once.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "METADATA_CACHE_SECONDS": 0}
    before = call(application, environ("/o/jwks/"))
    held = keys.key_set_held()
    key = keys.jwk.JWK.generate(kty="EC", crv="P-256")
    SigningKey.objects.create(
        algorithm=Algorithm.ES256,
        kid=key.thumbprint(),
        state=SigningKey.State.NEXT,
        public_jwk=keys.public_jwk_for(key, Algorithm.ES256),
        private_jwk_encrypted="unused",
    )
    assert keys.key_set_held() is held  # this process was not told
    after = call(application, environ("/o/jwks/"))
    assert key.thumbprint().encode() in after[2]
    assert after[1]["ETag"] != before[1]["ETag"]
