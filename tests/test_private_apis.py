"""Guards on the private library names Porchlight still relies on (docs/private-apis.md).

A library may change a private name in any release. Each test here checks that a name is still
there with the signature Porchlight calls or overrides, that the library still reaches it from
its public path, and, where cheap, that it still behaves as Porchlight relies on. A failure
names the library and version: read the entry in docs/private-apis.md before upgrading.
"""

import inspect
import logging
import weakref

import csp
import django
import oauth2_provider
import pytest
from csp import decorators as csp_decorators
from csp.middleware import CSPMiddleware
from django.contrib.auth.hashers import BasePasswordHasher, make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import close_caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.handlers.base import BaseHandler, reset_urlconf
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute

# get_related_populators: a private helper of Django's ModelIterable, absent from django-stubs.
from django.db.models.query import ModelIterable, QuerySet, get_related_populators  # type: ignore[attr-defined]
from django.db.models.query_utils import DeferredAttribute
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler

# _make_id: how Django's Signal keys a receiver's sender; absent from django-stubs.
from django.dispatch.dispatcher import _make_id  # type: ignore[attr-defined]
from django.forms.models import BaseModelForm
from django.http import HttpResponse, HttpResponseBase
from django.http.response import ResponseHeaders
from django.test import RequestFactory
from django.utils.connection import BaseConnectionHandler as ConnectionHandler
from django.utils.log import log_response
from django.views import View
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import TokenView as DotTokenView
from oauthlib.common import Request

from oidc_provider.models import AccessToken
from oidc_provider.views import TokenView

DOT = f"django-oauth-toolkit {oauth2_provider.__version__}"
DJANGO = f"Django {django.get_version()}"
CSP = f"django-csp {csp.__version__}" if hasattr(csp, "__version__") else "django-csp"


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def source(function) -> str:
    return inspect.getsource(function)


def changed(library: str, name: str, what: str) -> str:
    return f"{library} changed {name}: {what}. Porchlight relies on it; see docs/private-apis.md."


def assert_uses(function, name: str, *parts: str) -> None:
    """Fail, naming the change, unless Django's ``function`` (called ``name``) still has each of ``parts``."""
    text = source(function)
    for part in parts:
        assert part in text, changed(DJANGO, name, f"it no longer uses {part}")


# --- django-oauth-toolkit: the validator methods PorchlightValidator overrides ----------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_check_secret", ["self", "provided_secret", "stored_secret"]),
        ("_load_application", ["self", "client_id", "request"]),
        ("_check_and_set_request_resource", ["self", "request"]),
        ("_save_bearer_token", ["self", "token", "request", "args", "kwargs"]),
        ("_create_access_token", ["self", "expires", "request", "token", "source_refresh_token"]),
        (
            "_create_refresh_token",
            ["self", "request", "refresh_token_code", "access_token", "previous_refresh_token"],
        ),
    ],
)
def test_private_apis_dot_validator_methods_keep_their_signatures(name, expected):
    method = getattr(OAuth2Validator, name, None)
    assert method is not None, changed(DOT, f"OAuth2Validator.{name}", "it is gone")
    assert parameters(method) == expected, changed(DOT, f"OAuth2Validator.{name}", "its signature")


@pytest.mark.parametrize(
    ("caller", "callee"),
    [
        ("_authenticate_basic_auth", "self._check_secret("),
        ("_authenticate_request_body", "self._check_secret("),
        ("_authenticate_basic_auth", "self._load_application("),
        ("_authenticate_request_body", "self._load_application("),
        ("authenticate_client_id", "self._load_application("),
        ("_save_bearer_token", "self._check_and_set_request_resource("),
        ("_save_bearer_token", "self._create_access_token("),
        ("_save_bearer_token", "self._create_refresh_token("),
        ("save_bearer_token", "self._save_bearer_token("),
    ],
)
def test_private_apis_dot_still_calls_the_overridden_methods(caller, callee):
    # An override DOT no longer calls would silently stop applying Porchlight's rule.
    assert callee in source(getattr(OAuth2Validator, caller)), changed(
        DOT, f"OAuth2Validator.{caller}", f"it no longer calls {callee[5:-1]}"
    )


def test_private_apis_dot_check_secret_compares_a_hashed_secret():
    stored = make_password("s3cret")
    validator = OAuth2Validator()
    assert validator._check_secret("s3cret", stored), changed(DOT, "_check_secret", "a right secret fails")
    assert not validator._check_secret("wrong", stored), changed(DOT, "_check_secret", "a wrong one passes")


def test_private_apis_dot_load_application_reuses_the_client_already_on_the_request(
    rp, django_assert_num_queries
):
    # PorchlightValidator._load_application sets request.client from one prepared lookup and
    # relies on DOT's method keeping that row after its checks, without a query of its own.
    request = Request("https://op.example.com/o/token/")
    request.client = rp.model
    with django_assert_num_queries(0):
        loaded = OAuth2Validator()._load_application(rp.client_id, request)
    assert loaded is rp.model, changed(DOT, "_load_application", "it no longer reuses request.client")


def test_private_apis_dot_resource_check_without_grant_type_only_parses_and_validates():
    # PorchlightValidator._check_and_set_request_resource runs DOT's with grant_type None to
    # parse the repeated resource parameter (RFC 8707 §2), then applies the grant's rule itself.
    body = "resource=https%3A%2F%2Fa.example.com&resource=https%3A%2F%2Fb.example.com"
    request = Request("https://op.example.com/o/token/", "POST", body)
    request.grant_type = None
    OAuth2Validator()._check_and_set_request_resource(request)
    assert request.resource == ["https://a.example.com", "https://b.example.com"], changed(
        DOT, "_check_and_set_request_resource", "how it parses resource"
    )


# --- Django --------------------------------------------------------------------------------------


def test_private_apis_django_hasher_check_encode_args():
    assert parameters(BasePasswordHasher._check_encode_args) == ["self", "password", "salt"], changed(
        DJANGO, "BasePasswordHasher._check_encode_args", "its signature"
    )
    hasher = BasePasswordHasher()
    for password, salt in [(None, "salt"), ("secret", ""), ("secret", "a$b")]:
        with pytest.raises(TypeError if password is None else ValueError):
            hasher._check_encode_args(password, salt)
    hasher._check_encode_args("secret", "salt")


def test_private_apis_django_model_form_update_errors():
    # oidc_provider.forms.ClientAdminForm moves the model's errors on fields it does not show.
    assert parameters(BaseModelForm._update_errors) == ["self", "errors"], changed(
        DJANGO, "BaseModelForm._update_errors", "its signature"
    )
    assert "self._update_errors(" in source(BaseModelForm._post_clean), changed(
        DJANGO, "BaseModelForm._post_clean", "it no longer reports model errors through _update_errors"
    )


def test_private_apis_django_raw_delete_is_one_delete(db, django_assert_num_queries):
    # oidc_provider.refresh deletes a rotated token's access token with one DELETE.
    assert parameters(QuerySet._raw_delete) == ["self", "using"], changed(
        DJANGO, "QuerySet._raw_delete", "its signature"
    )
    with django_assert_num_queries(1) as captured:
        AccessToken.objects.filter(pk=-1)._raw_delete("default")
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("DELETE"), changed(
        DJANGO, "QuerySet._raw_delete", "it no longer issues a bare DELETE"
    )


def test_private_apis_django_response_has_been_logged(caplog):
    # The outage handler logs one line per request and marks the response logged.
    assert "_has_been_logged" in source(log_response), changed(DJANGO, "log_response", "its flag")
    response = HttpResponse(status=503)
    response._has_been_logged = True
    with caplog.at_level(logging.ERROR, logger="django.request"):
        log_response("Service Unavailable", response=response, request=RequestFactory().get("/"))
    assert not caplog.records, changed(DJANGO, "HttpResponse._has_been_logged", "it is ignored")


def test_private_apis_django_handler_middleware_chain():
    # The lean path builds a second handler's chain as BaseHandler.load_middleware does.
    for name in ("_view_middleware", "_template_response_middleware", "_exception_middleware"):
        assert name in vars(BaseHandler), changed(DJANGO, f"BaseHandler.{name}", "it is gone")
    assert_uses(
        BaseHandler.load_middleware,
        "BaseHandler.load_middleware",
        "self._view_middleware",
        "self._template_response_middleware",
        "self._exception_middleware",
        "self._middleware_chain",
        "self._get_response",
        "convert_exception_to_response(",
    )
    assert "self._middleware_chain(" in source(BaseHandler.get_response), changed(
        DJANGO, "BaseHandler.get_response", "it no longer calls _middleware_chain"
    )
    assert parameters(BaseHandler._get_response) == ["self", "request"], changed(
        DJANGO, "BaseHandler._get_response", "its signature"
    )


def test_private_apis_django_model_iterable_internals():
    # Prepared lookups build rows the way ModelIterable.__iter__ does, from its compiler's parts,
    # converting values as SQLCompiler.results_iter does.
    assert parameters(get_related_populators) == ["klass_info", "select", "db"], changed(
        DJANGO, "get_related_populators", "its signature"
    )
    assert_uses(
        ModelIterable.__iter__,
        "ModelIterable.__iter__",
        "get_related_populators(",
        "compiler.select",
        "compiler.klass_info",
        "compiler.annotation_col_map",
        "from_db(",
        ".populate(row, obj)",
    )
    assert_uses(
        SQLCompiler.results_iter,
        "SQLCompiler.results_iter",
        "self.col_count",
        "self.get_converters(",
        "self.apply_converters(",
    )
    assert parameters(SQLCompiler.get_converters) == ["self", "expressions"], changed(
        DJANGO, "SQLCompiler.get_converters", "its signature"
    )
    assert parameters(SQLCompiler.apply_converters) == ["self", "rows", "converters"], changed(
        DJANGO, "SQLCompiler.apply_converters", "its signature"
    )


def test_private_apis_django_model_insert_internals():
    # Prepared inserts do what Model._save_table does for a new row, with QuerySet._insert's query.
    assert_uses(
        Model._save_table,
        "Model._save_table",
        "meta.local_concrete_fields",
        "meta.auto_field",
        "meta.db_returning_fields",
        "setattr(self, field.attname",
    )
    assert "self._prepare_related_fields_for_save(" in source(Model.save), changed(
        DJANGO, "Model.save", "it no longer calls _prepare_related_fields_for_save"
    )
    assert parameters(Model._prepare_related_fields_for_save) == ["self", "operation_name", "fields"], (
        changed(DJANGO, "Model._prepare_related_fields_for_save", "its signature")
    )
    assert_uses(
        QuerySet._insert, "QuerySet._insert", "sql.InsertQuery(", ".insert_values(", "returning_fields"
    )
    assert_uses(
        SQLInsertCompiler.as_sql,
        "SQLInsertCompiler.as_sql",
        "self.returning_fields",
        "self.pre_save_val(",
        "self.prepare_value(",
    )


def test_private_apis_dot_token_view_dispatch_is_views_under_two_decorators():
    # Porchlight's TokenView takes View.dispatch and applies DOT's decorators once, in as_view.
    dispatch, layers = DotTokenView.dispatch, 0
    while hasattr(dispatch, "__wrapped__"):
        dispatch, layers = dispatch.__wrapped__, layers + 1
    assert dispatch is View.dispatch and layers == 2, changed(
        DOT, "TokenView.dispatch", "it is no longer View.dispatch under two method decorators"
    )
    marks = {name: value for name, value in vars(DotTokenView.dispatch).items() if name != "__wrapped__"}
    assert marks == {"csrf_exempt": True, "login_required": False}, changed(
        DOT, "TokenView.dispatch", f"its decorators now mark it {marks}"
    )
    view = TokenView.as_view()
    assert (view.csrf_exempt, view.login_required) == (True, False)  # type: ignore[attr-defined]


def test_private_apis_django_model_from_db_and_init():
    # ground.rows builds a loaded row's object as Model.from_db and Model.__init__ do: the state
    # from_db sets, the signals __init__ sends, each selected column set through its descriptor
    # (tests/ground/test_rows.py compares the objects themselves).
    assert_uses(
        Model.from_db, "Model.from_db", "cls(*values)", "new._state.adding = False", "new._state.db = db"
    )
    assert_uses(
        Model.__init__,
        "Model.__init__",
        "pre_init.send(",
        "self._state = ModelState()",
        "_setattr(self, field.attname, val)",
        "post_init.send(",
    )
    assert (ModelState.adding, ModelState.db) == (True, None), changed(DJANGO, "ModelState", "its defaults")
    for descriptor in (DeferredAttribute, ForeignKeyDeferredAttribute):
        assert "instance.__dict__" in source(descriptor), changed(
            DJANGO, descriptor.__name__, "it no longer keeps the value in the instance's __dict__"
        )
    assert not hasattr(DeferredAttribute, "__set__"), changed(DJANGO, "DeferredAttribute", "it has __set__")


def test_private_apis_django_response_headers_store():
    # ops.headers adds headers checked and encoded once straight into ResponseHeaders._store.
    assert "self._store[key.lower()] = (key, value)" in source(ResponseHeaders.__setitem__), changed(
        DJANGO, "ResponseHeaders.__setitem__", "how it stores a header"
    )
    headers = ResponseHeaders({"Content-Type": "text/plain"})
    assert headers._store == {"content-type": ("Content-Type", "text/plain")}, changed(
        DJANGO, "ResponseHeaders._store", "what it holds"
    )
    headers._store["x-frame-options"] = ("X-Frame-Options", "DENY")
    assert headers["x-frame-options"] == "DENY" and "X-Frame-Options" in headers, changed(
        DJANGO, "ResponseHeaders._store", "a header stored there is not read back"
    )
    assert ("X-Frame-Options", "DENY") in HttpResponse(headers=headers).items(), changed(
        DJANGO, "ResponseHeaders._store", "a header stored there is not sent"
    )
    response = HttpResponse(headers={"X-Frame-Options": "DENY", "Content-Length": "0"})
    assert list(response.items()) == list(response.headers._store.values()), changed(
        DJANGO, "ResponseHeaders._store", "response.items() is no longer its pairs"
    )


def test_private_apis_django_postgresql_timestamptz_loader():
    # ground.postgresql reads timestamptz as Django's loader does, parsed in C: the zone replaced,
    # on the template Django builds for a connection, and the loader's zone read per cursor.
    from django.db.backends.postgresql import base as postgresql
    from django.db.backends.postgresql import psycopg_any

    assert parameters(psycopg_any.get_adapters_template) == ["use_tz", "timezone"], changed(
        DJANGO, "psycopg_any.get_adapters_template", "its signature"
    )
    assert_uses(psycopg_any.BaseTzLoader.load, "BaseTzLoader.load", "res.replace(tzinfo=self.timezone)")
    assert_uses(
        postgresql.DatabaseWrapper.get_connection_params,
        "DatabaseWrapper.get_connection_params",
        'conn_params["context"] = get_adapters_template(',
    )
    assert_uses(
        postgresql.DatabaseWrapper.create_cursor,
        "DatabaseWrapper.create_cursor",
        "if self.timezone != tzloader.timezone:",
    )


def test_private_apis_django_handler_resolve_request():
    # The lean path resolves each protocol path once; Django's handler resolves through this method.
    assert parameters(BaseHandler.resolve_request) == ["self", "request"], changed(
        DJANGO, "BaseHandler.resolve_request", "its signature"
    )
    assert "self.resolve_request(request)" in source(BaseHandler._get_response), changed(
        DJANGO, "BaseHandler._get_response", "it no longer calls resolve_request"
    )
    assert "request.resolver_match = " in source(BaseHandler.resolve_request), changed(
        DJANGO, "BaseHandler.resolve_request", "it no longer sets request.resolver_match"
    )


def test_private_apis_django_wsgi_request_cycle():
    # LeanWSGIHandler does for a protocol path what WSGIHandler.__call__ and get_response do.
    assert_uses(
        WSGIHandler.__call__,
        "WSGIHandler.__call__",
        "set_script_prefix(get_script_name(environ))",
        "signals.request_started.send(sender=self.__class__, environ=environ)",
        "request = self.request_class(environ)",
        "response = self.get_response(request)",
        "response._handler_class = self.__class__",
        '"%d %s" % (response.status_code, response.reason_phrase)',
        "*response.items(),",
        'c.output(header="")) for c in response.cookies.values()',
        "start_response(status, response_headers)",
        'environ["wsgi.file_wrapper"]',
        "response.file_to_stream.close = response.close",
    )
    assert_uses(
        BaseHandler.get_response,
        "BaseHandler.get_response",
        "set_urlconf(settings.ROOT_URLCONF)",
        "response._resource_closers.append(request.close)",
        "if response.status_code >= 400:",
        "log_response(",
    )
    # The response's close: every closer, then request_finished with the handler as sender.
    assert_uses(
        HttpResponseBase.close,
        "HttpResponseBase.close",
        "for closer in self._resource_closers:",
        "self._resource_closers.clear()",
        "self.closed = True",
        "signals.request_finished.send(sender=self._handler_class)",
    )


def test_private_apis_django_request_signal_receivers():
    # RequestSignals does the work of Django's own receivers while only they are connected.
    def receivers(signal) -> set:
        return {receiver() for _, receiver, _ in signal.receivers}

    assert receivers(request_started) == {reset_queries, close_old_connections}, changed(
        DJANGO, "request_started", "its receivers"
    )
    assert receivers(request_finished) == {close_old_connections, close_caches, reset_urlconf}, changed(
        DJANGO, "request_finished", "its receivers"
    )
    for (_, sender), receiver, is_async in request_started.receivers:
        assert sender == _make_id(None) and isinstance(receiver, weakref.ref) and is_async is False, changed(
            DJANGO, "Signal.receivers", "how a receiver is kept"
        )
    assert_uses(
        reset_queries, "reset_queries", "connections.all(initialized_only=True)", "queries_log.clear()"
    )
    assert_uses(
        close_old_connections,
        "close_old_connections",
        "connections.all(initialized_only=True)",
        "conn.close_if_unusable_or_obsolete()",
    )
    assert_uses(close_caches, "close_caches", "caches.close_all()")
    assert_uses(reset_urlconf, "reset_urlconf", "set_urlconf(None)")
    # Connections are kept per thread in an asgiref Local, under their alias.
    assert_uses(
        ConnectionHandler.all,
        "ConnectionHandler.all",
        "for alias in self",
        "hasattr(self._connections, alias)",
    )
    assert_uses(
        ConnectionHandler.__getitem__, "ConnectionHandler.__getitem__", "getattr(self._connections, alias)"
    )
    # A backend that does not override BaseCache.close has nothing to close at a request's end.
    assert LocMemCache.close is BaseCache.close, changed(DJANGO, "LocMemCache.close", "it closes something")
    assert [line.strip() for line in source(BaseCache.close).splitlines()[1:] if line.strip()] == [
        '"""Close the cache connection"""',
        "pass",
    ], changed(DJANGO, "BaseCache.close", "it does something")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_make_hash_value", ["self", "user", "timestamp"]),
        ("_make_token_with_timestamp", ["self", "user", "timestamp", "secret"]),
        ("_num_seconds", ["self", "dt"]),
        ("_now", ["self"]),
    ],
)
def test_private_apis_django_token_generator_methods(name, expected):
    # accounts' e-mail verification links: PasswordResetTokenGenerator with their own lifetime.
    method = getattr(PasswordResetTokenGenerator, name, None)
    assert method is not None, changed(DJANGO, f"PasswordResetTokenGenerator.{name}", "it is gone")
    assert parameters(method) == expected, changed(
        DJANGO, f"PasswordResetTokenGenerator.{name}", "its signature"
    )


def test_private_apis_django_token_generator_hashes_through_make_hash_value():
    assert "self._make_hash_value(" in source(PasswordResetTokenGenerator._make_token_with_timestamp), (
        changed(
            DJANGO,
            "PasswordResetTokenGenerator._make_token_with_timestamp",
            "it no longer calls _make_hash_value",
        )
    )
    assert "self._now()" in source(PasswordResetTokenGenerator.make_token), changed(
        DJANGO, "PasswordResetTokenGenerator.make_token", "it no longer reads the time through _now"
    )


# --- django-csp ----------------------------------------------------------------------------------

# What django-csp's decorators set on a response, and its middleware reads (the security headers
# middleware looks for them to know a response has a policy of its own).
PER_RESPONSE_POLICY = {
    "_csp_config": lambda: csp_decorators.csp({"default-src": ["'self'"]}),
    "_csp_update": lambda: csp_decorators.csp_update({"frame-src": ["https://a.example.com"]}),
    "_csp_replace": lambda: csp_decorators.csp_replace({"frame-src": ["https://a.example.com"]}),
    "_csp_exempt": lambda: csp_decorators.csp_exempt(),
    "_csp_config_ro": lambda: csp_decorators.csp({"default-src": ["'self'"]}, REPORT_ONLY=True),
    "_csp_update_ro": lambda: csp_decorators.csp_update({"frame-src": ["x"]}, REPORT_ONLY=True),
    "_csp_replace_ro": lambda: csp_decorators.csp_replace({"frame-src": ["x"]}, REPORT_ONLY=True),
    "_csp_exempt_ro": lambda: csp_decorators.csp_exempt(REPORT_ONLY=True),
}


@pytest.mark.parametrize("name", PER_RESPONSE_POLICY)
def test_private_apis_csp_decorators_mark_the_response(name):
    response = PER_RESPONSE_POLICY[name]()(HttpResponse)()
    assert hasattr(response, name), changed(CSP, name, "the decorator no longer sets it")
    assert name in source(CSPMiddleware), changed(CSP, name, "the middleware no longer reads it")


def test_private_apis_csp_nonce_internals():
    middleware = source(CSPMiddleware)
    assert 'request, "_csp_nonce"' in middleware, changed(CSP, "request._csp_nonce", "it is gone")
    assert callable(getattr(CSPMiddleware, "_csp_nonce_post_response", None)), changed(
        CSP, "CSPMiddleware._csp_nonce_post_response", "it is gone"
    )
    assert "CheckableLazyObject" in middleware, changed(CSP, "CheckableLazyObject", "it is gone")
