"""Protocol paths go straight down the lean chain under a server (ops/lean_path.LeanWSGIHandler).

The deployed handler (porchlight.wsgi) sends them there without entering Django's main handler,
and does Django's request cycle around the chain itself. Each answer is compared with the one
Django's own WSGI handler gives through ``MIDDLEWARE`` (whose first middleware hands the same
paths to the same chain), and the request signals are checked: sent as Django sends them while
anything else listens, done by hand (kept connections closed exactly when Django would) otherwise.
"""

import gc
import logging
import os
import time
import uuid
import weakref
from collections.abc import Callable

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.urls import get_script_prefix

from ops.request_log import new_request_id
from porchlight.wsgi import Handler, Request, django_application
from tests.conftest import authorize, basic_auth, exchange
from tests.ops.test_documents import call, environ, without_request_id


class DjangoHandler(WSGIHandler):
    """Django's own WSGI handler, with the deployed handler's request class."""

    request_class = Request


class Receiver:
    """A request signal's receiver that remembers what it was sent."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kwargs) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def kept_test_connection():
    # As Django's test client does: the request cycle must not close the test's connection (and
    # with it the transaction the test runs in) on PostgreSQL.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def form(path: str, body: str, **extra: str) -> dict:
    env = environ(path, "POST", CONTENT_TYPE="application/x-www-form-urlencoded", **extra)
    env["CONTENT_LENGTH"] = str(len(body))
    env["wsgi.input"].write(body.encode())
    env["wsgi.input"].seek(0)
    return env


def test_lean_wsgi_answers_as_djangos_handler_does(logged_in, client, rp, kept_test_connection):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    bearer = f"Bearer {tokens['access_token']}"
    credentials = basic_auth(rp.client_id, rp.client_secret)
    session = "; ".join(f"{name}={morsel.value}" for name, morsel in logged_in.cookies.items())
    requests = [
        lambda: environ("/o/userinfo/", HTTP_AUTHORIZATION=bearer),
        lambda: environ("/o/userinfo/", HTTP_AUTHORIZATION=bearer, HTTP_ORIGIN="https://app.example"),
        lambda: environ("/o/userinfo/", HTTP_COOKIE=session),
        lambda: environ("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token"),
        lambda: environ("/o/userinfo/", "PUT", HTTP_AUTHORIZATION=bearer),
        lambda: form("/o/introspect/", f"token={tokens['access_token']}", HTTP_AUTHORIZATION=credentials),
        lambda: form("/o/introspect/", "token=x"),
        lambda: form("/o/introspect/", "token=%zz", HTTP_AUTHORIZATION=credentials),
        lambda: environ("/o/token/", "OPTIONS", HTTP_ORIGIN="https://app.example"),
        lambda: form("/o/revoke/", "token=x", HTTP_AUTHORIZATION=credentials),
        lambda: environ("/o/device/", "GET"),
        lambda: environ("/.well-known/openid-configuration", HTTP_IF_NONE_MATCH='"x"'),
    ]
    django = DjangoHandler()
    for request in requests:
        expected = call(django, request())
        answer = call(django_application, request())
        assert answer[0] == expected[0], request()["PATH_INFO"]
        assert without_request_id(answer[1]) == without_request_id(expected[1])
        assert answer[2] == expected[2]
        assert len(answer[1]["X-Request-ID"]) == 32
        # The lean chain: a signed-in browser's session is neither read nor renewed.
        assert "Set-Cookie" not in answer[1]


def test_lean_wsgi_logs_an_error_answer_as_django_does(db, caplog, kept_test_connection):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        status, _, _ = call(django_application, environ("/o/userinfo/"))
    assert status.startswith("401 ")
    assert [record.getMessage() for record in caplog.records] == ["Unauthorized: /o/userinfo/"]


def test_lean_wsgi_sends_the_request_signals_while_anyone_else_listens(db, kept_test_connection):
    started, finished = Receiver(), Receiver()
    request_started.connect(started)
    request_finished.connect(finished)
    try:
        sent: list = []
        result = django_application(environ("/o/userinfo/"), lambda *args: sent.extend(args))
        assert sent[0].startswith("401 ")
        assert len(started.calls) == 1
        assert started.calls[0]["sender"] is Handler
        assert started.calls[0]["environ"]["PATH_INFO"] == "/o/userinfo/"
        # request_finished when the server closes the answer (PEP 3333), not before.
        assert finished.calls == []
        b"".join(result)
        result.close()
        assert len(finished.calls) == 1
        assert finished.calls[0]["sender"] is Handler
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    call(django_application, environ("/o/userinfo/"))
    assert len(started.calls) == len(finished.calls) == 1


def test_lean_wsgi_closes_a_kept_connection_when_django_would(transactional_db):
    request = environ("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token")

    def kept_after(handler: Callable, *, age_up: bool) -> bool:
        connection.ensure_connection()
        result = handler(dict(request), lambda *args: None)
        if age_up:
            connection.close_at = time.monotonic() - 1
        result.close()
        return connection.connection is not None

    # Only Django's own receivers listen here, so the deployed handler does their work itself.
    signals = django_application.signals
    assert signals.started_djangos() and signals.finished_djangos()
    django = DjangoHandler()
    for age_up in (False, True):
        assert kept_after(django_application, age_up=age_up) == kept_after(django, age_up=age_up)
    # Within CONN_MAX_AGE the token lookup's connection is kept for the next request.
    assert kept_after(django_application, age_up=False)
    if connection.vendor == "postgresql":
        # Once its age is up, the end of the request closes it (SQLite's in-memory test database
        # is never closed, by either handler).
        assert not kept_after(django_application, age_up=True)


def test_lean_wsgi_request_ids_are_uuid4_hex(monkeypatch):
    # new_request_id sets the bits uuid.uuid4 sets: from the same random bytes, the same id.
    drawn: list[bytes] = []
    real = os.urandom

    def urandom(size: int) -> bytes:
        drawn.append(real(size))
        return drawn[-1]

    monkeypatch.setattr(os, "urandom", urandom)
    for _ in range(200):
        made = new_request_id()
        assert made == uuid.UUID(bytes=drawn[-1], version=4).hex
        assert uuid.UUID(made).version == 4


def test_lean_wsgi_sets_the_script_prefix_as_django_does(db, signing_keys, kept_test_connection):
    # Behind a proxy that mounts Porchlight under a path, URLs the views build carry it.
    django = DjangoHandler()
    for script_name in ("/idp", "", "/idp/", ""):
        request = environ("/.well-known/openid-configuration", SCRIPT_NAME=script_name)
        answer = call(django_application, dict(request))
        assert get_script_prefix() == script_name.rstrip("/") + "/"
        expected = call(django, dict(request))
        assert answer[0] == expected[0] and answer[2] == expected[2]


def test_lean_wsgi_answer_is_freed_once_closed(db, kept_test_connection):
    # Nothing the handler adds makes the answer refer to itself: it goes when the server drops
    # it, not at the next run of the cycle collector.
    gc.disable()
    try:
        result = django_application(environ("/o/userinfo/"), lambda *args: None)
        answer = weakref.ref(result)
        b"".join(result)
        result.close()
        del result
        assert answer() is None
    finally:
        gc.enable()
