"""Prometheus metrics: the counters, the middleware that times requests, and the ``/metrics`` view.

Under gunicorn every worker is its own process, so prometheus-client runs in its multiprocess
mode: ``PROMETHEUS_MULTIPROC_DIR`` (set by gunicorn.conf.py, under ``var/``) holds one file per
worker and ``/metrics`` adds them up. Without it (``manage.py runserver``, tests) the counters live
in this process.
"""

import hmac
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.signals import got_request_exception
from django.db import DatabaseError
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from audit.actions import Action
from ground.client_address import client_address
from oidc_provider.rate_limits import request_refused

from .wsgi_environ import UNREAD_FORWARDING

REQUESTS = Counter(
    "porchlight_http_requests_total",
    "HTTP requests answered, by endpoint and status.",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "porchlight_http_request_duration_seconds",
    "Time spent answering a request, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOKENS_ISSUED = Counter("porchlight_tokens_issued_total", "Token responses, by grant type.", ["grant_type"])
SIGN_INS = Counter(
    "porchlight_sign_ins_total", "Sign-in attempts, by outcome (success, failure, lockout).", ["outcome"]
)
SECOND_FACTORS = Counter(
    "porchlight_second_factors_total", "Second factors used at sign-in, by RFC 8176 amr value.", ["method"]
)
CONSENTS = Counter("porchlight_consents_total", "Consents given (new or widened).")
DATABASE_ERRORS = Counter("porchlight_database_errors_total", "Requests that failed on a database error.")
CLIENT_RATE_LIMITED = Counter(
    "porchlight_client_rate_limited_total",
    "Requests refused (429) by a client's rate limit, by endpoint and client.",
    ["endpoint", "client"],
)

# Paths with their own ids in the URL would make one series per id; the view name is bounded.
UNMATCHED = "unmatched"
TOKEN_VIEW = "oidc_provider:token"
# amr values (RFC 8176 §2) that are not a second factor by themselves.
FIRST_FACTOR_AMR = {"pwd", "mfa", "user"}


def _endpoint(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name or UNMATCHED) if match else UNMATCHED


class RequestMetricsMiddleware:
    """Count and time every request by endpoint and status; count token responses by grant type."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # The metrics' children per (endpoint, status), as ops/documents.py keeps them: labels()
        # checks and converts its arguments and takes a lock on every call. Both are bounded
        # (view names, status codes).
        self.children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        endpoint = _endpoint(request)
        status = response.status_code
        children = self.children.get((endpoint, status))
        if children is None:
            children = self.children[(endpoint, status)] = (
                LATENCY.labels(endpoint),
                REQUESTS.labels(endpoint, str(status)),
            )
        timing, count = children
        timing.observe(time.perf_counter() - started)
        count.inc()
        if endpoint == TOKEN_VIEW and response.status_code == 200:
            # The token view has parsed the form already; reading it again costs nothing.
            # Only the grant types the token endpoint serves (it refuses others) become labels.
            TOKENS_ISSUED.labels(request.POST.get("grant_type", "")).inc()
        return response


class SigningKeyAgeCollector:
    """Report the age of each algorithm's active signing key at scrape time."""

    def collect(self):
        from oidc_provider.models import SigningKey

        family = GaugeMetricFamily(
            "porchlight_signing_key_age_seconds",
            "Seconds since the active signing key of each algorithm started signing.",
            labels=["algorithm"],
        )
        now = timezone.now()
        try:
            rows = list(
                SigningKey.objects.filter(state=SigningKey.State.ACTIVE).values_list(
                    "algorithm", "activated_at", "created"
                )
            )
        except DatabaseError:
            rows = []
        for algorithm, activated_at, created in rows:
            family.add_metric([algorithm], (now - (activated_at or created)).total_seconds())
        yield family


class BackgroundJobCollector:
    """Report the background queue at scrape time: tasks by status, logout deliveries by state."""

    def collect(self):
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        from oidc_provider.models import LogoutDelivery

        tasks = GaugeMetricFamily(
            "porchlight_background_tasks", "Background tasks by status (READY: queued).", labels=["status"]
        )
        deliveries = GaugeMetricFamily(
            "porchlight_logout_deliveries", "Back-channel logout deliveries by state.", labels=["state"]
        )
        try:
            task_counts = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")))
            delivery_counts = dict(LogoutDelivery.objects.values_list("state").annotate(n=Count("id")))
        except DatabaseError:
            task_counts, delivery_counts = {}, {}
        for status in ("READY", "RUNNING", "FAILED", "SUCCESSFUL"):
            tasks.add_metric([status], task_counts.get(status, 0))
        for state in LogoutDelivery.State.values:
            deliveries.add_metric([state], delivery_counts.get(state, 0))
        yield tasks
        yield deliveries


def exposition() -> bytes:
    """Return every worker's counters (or this process's) and the scrape-time gauges, as text."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(SigningKeyAgeCollector())
    gauges.register(BackgroundJobCollector())
    return generate_latest(counters) + generate_latest(gauges)


def _allowed(request: HttpRequest) -> bool:
    token = settings.PORCHLIGHT["METRICS_TOKEN"]
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    if _forwarded_unread(request):
        # It came through a proxy whose word Porchlight does not read, so the address it would be
        # judged on is that proxy's (loopback, on the same host), not the client's.
        return False
    # Judged on the client, as throttling counts it: behind a proxy on the same host every scrape
    # comes from loopback, which would let in anyone who reaches the proxy.
    client = client_address(request)
    return client is not None and any(
        client in network for network in settings.PORCHLIGHT["METRICS_ALLOWED_NETWORKS"]
    )


def _forwarded_unread(request: HttpRequest) -> bool:
    # client_address reads X-Forwarded-For only with BEHIND_PROXY. RFC 7239's Forwarded is read
    # (into X-Forwarded-For) only with PROXY_HEADERS=forwarded, from a trusted proxy, and removed
    # once read; X-Forwarded-* is then dropped, and the request marked (ops/wsgi_environ.py).
    # A client can add any of these headers itself, but that only ever costs it access.
    unread_xff = not settings.PORCHLIGHT["BEHIND_PROXY"] and request.META.get("HTTP_X_FORWARDED_FOR")
    return bool(unread_xff or request.META.get("HTTP_FORWARDED") or request.META.get(UNREAD_FORWARDING))


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the Prometheus text exposition to a bearer of the metrics token or an allowed address."""
    if not _allowed(request):
        response = HttpResponseForbidden("Metrics need the metrics token or an allowed address.\n")
        # RFC 6750 §3: say which scheme would be accepted.
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# --- what the apps report, through Django's signals (accounts and oidc_provider import nothing here)


def _signed_in(sender, request=None, user=None, **kwargs) -> None:
    SIGN_INS.labels("success").inc()


def _sign_in_failed(sender, credentials=None, request=None, **kwargs) -> None:
    SIGN_INS.labels("failure").inc()


def _audit_event_saved(sender, instance, created: bool, **kwargs) -> None:
    if created and instance.action == Action.LOGIN_LOCKOUT:
        SIGN_INS.labels("lockout").inc()


def _login_session_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    factors = [method for method in instance.amr or [] if method not in FIRST_FACTOR_AMR]
    if created:
        for method in factors:
            SECOND_FACTORS.labels(method).inc()
    elif update_fields and "amr" in update_fields and factors:
        # A step-up appends the factor just used.
        SECOND_FACTORS.labels(factors[-1]).inc()


def _consent_saved(sender, instance, **kwargs) -> None:
    CONSENTS.inc()


def _client_rate_limited(sender, endpoint: str, client=None, **kwargs) -> None:
    # Staff register clients, so their ids are a bounded label set; self-registered ones
    # (RFC 7591) are not, nor are the senders of requests no client authenticated.
    if client is None:
        label = "unauthenticated"
    elif client.registered_itself:
        label = "self-registered"
    else:
        label = client.client_id
    CLIENT_RATE_LIMITED.labels(endpoint, label).inc()


def _request_failed(sender, request=None, **kwargs) -> None:
    if isinstance(sys.exc_info()[1], DatabaseError):
        DATABASE_ERRORS.inc()


# Senders named as "app_label.Model" are resolved once the apps are ready; this module is
# imported with the middleware, so the receivers are connected in every process that serves.
user_logged_in.connect(_signed_in, dispatch_uid="ops.metrics.signed_in")
user_login_failed.connect(_sign_in_failed, dispatch_uid="ops.metrics.sign_in_failed")
post_save.connect(_audit_event_saved, sender="audit.AuditEvent", dispatch_uid="ops.metrics.audit")
post_save.connect(_login_session_saved, sender="accounts.LoginSession", dispatch_uid="ops.metrics.session")
post_save.connect(_consent_saved, sender="oidc_provider.Consent", dispatch_uid="ops.metrics.consent")
got_request_exception.connect(_request_failed, dispatch_uid="ops.metrics.request_failed")
request_refused.connect(_client_rate_limited, dispatch_uid="ops.metrics.client_rate_limited")
