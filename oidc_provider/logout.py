"""Single sign-out: tell every app that used a sign-in session when it ends.

OIDC Back-Channel Logout 1.0: a signed logout token is POSTed to each client's
``backchannel_logout_uri``. The deliveries are rows (``LogoutDelivery``) written, with their task,
in the transaction that ends the session; the task worker (``manage.py db_worker``) sends them
with a short timeout, retries with exponential backoff and finally marks them failed; a URI that
leads to an internal address fails at once (ground/outbound.py). A delivered row is never
sent again, and two workers never send one row at once (a lease taken by an atomic UPDATE).
OIDC Front-Channel Logout 1.0: the signed-out page loads each client's ``frontchannel_logout_uri``
in a hidden frame.
"""

import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django_tasks import task
from oauth2_provider.settings import oauth2_settings

from accounts.models import LoginSession, User
from audit.actions import Action
from audit.services import audit_record
from ground import outbound

from . import keys
from .models import Algorithm, Client, LogoutDelivery, SessionClient
from .subjects import subject_for

# Back-Channel Logout 1.0 §2.4.
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_TOKEN_LIFETIME = timedelta(minutes=2)
# Nothing in the answer matters but its status (§2.8); read no more than this of it.
MAX_RESPONSE_BYTES = 16 * 1024
ERROR_LENGTH = LogoutDelivery._meta.get_field("last_error").max_length
# The audit action a finished delivery records.
DELIVERY_ACTIONS = {
    LogoutDelivery.State.DELIVERED: Action.LOGOUT_DELIVERY_DELIVERED,
    LogoutDelivery.State.FAILED: Action.LOGOUT_DELIVERY_FAILED,
}
# What discovery advertises (Back-Channel Logout 1.0 §2.1, Front-Channel Logout 1.0 §3): every
# logout token carries sid, and front-channel URIs get iss and sid when the client asks.
LOGOUT_DISCOVERY = {
    "backchannel_logout_supported": True,
    "backchannel_logout_session_supported": True,
    "frontchannel_logout_supported": True,
    "frontchannel_logout_session_supported": True,
}


def session_client_record(*, sid: str, client: Client) -> None:
    """Note that ``client`` received tokens in the sign-in session ``sid``."""
    session_pk = LoginSession.objects.filter(sid=sid).values_list("pk", flat=True).first() if sid else None
    if session_pk is not None:
        SessionClient.objects.bulk_create(
            [SessionClient(session_id=session_pk, client=client)], ignore_conflicts=True
        )


def session_clients(session: LoginSession) -> QuerySet[Client]:
    """Return the clients that received tokens in ``session``."""
    return Client.objects.filter(session_links__session=session)


def logout_deliveries_queue(
    *, session: LoginSession, client: Client | None = None, reason: str = ""
) -> list[LogoutDelivery]:
    """Queue, in this transaction, a back-channel logout for each client (or ``client``) of ``session``."""
    clients = session_clients(session).exclude(backchannel_logout_uri="")
    if client is not None:
        clients = clients.filter(pk=client.pk)
    deliveries = [
        LogoutDelivery.objects.create(
            client=receiver,
            sid=session.sid,
            subject=subject_for(session.user, receiver),
            uri=receiver.backchannel_logout_uri,
            reason=reason or session.end_reason,
            next_attempt=timezone.now(),
        )
        for receiver in clients
    ]
    for delivery in deliveries:
        # The database backend writes the task row now, inside the caller's transaction, so the
        # task exists if and only if the session's end commits (on_commit could lose it in a crash).
        logout_deliver.enqueue(delivery.pk)
    return deliveries


def logout_token_build(*, delivery: LogoutDelivery) -> str:
    """Sign the logout token for ``delivery`` (Back-Channel Logout 1.0 §2.4)."""
    client = delivery.client
    now = int(time.time())
    claims = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": client.client_id,
        "iat": now,
        "exp": now + int(LOGOUT_TOKEN_LIFETIME.total_seconds()),
        "jti": str(uuid.uuid4()),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        # §2.4: sub and/or sid; never a nonce. sid is always sent: every session has one.
        "sub": delivery.subject,
        "sid": delivery.sid,
    }
    # §2.4: signed as the client's ID tokens are, so it verifies them with the same key.
    if client.algorithm == Algorithm.HS256:
        return keys.sign_with_secret(claims, client=client, typ=LOGOUT_TOKEN_TYPE)
    return keys.sign(claims, algorithm=client.algorithm, typ=LOGOUT_TOKEN_TYPE)


def _claim(delivery_id: int) -> LogoutDelivery | None:
    """Take the lease on a pending delivery, or return None if it is done or another worker has it."""
    now = timezone.now()
    lease = timedelta(seconds=settings.PORCHLIGHT_LOGOUT_TIMEOUT * 3)
    taken = (
        LogoutDelivery.objects.filter(pk=delivery_id, state=LogoutDelivery.State.PENDING)
        .filter(Q(next_attempt__isnull=True) | Q(next_attempt__lte=now + timedelta(seconds=1)))
        .update(next_attempt=now + lease, attempts=F("attempts") + 1)
    )
    if not taken:
        return None
    return LogoutDelivery.objects.select_related("client").get(pk=delivery_id)


def _post(uri: str, token: str) -> str:
    """POST the logout token to ``uri``; return "" on success or why it failed.

    Raises ``outbound.OutboundRefused`` when ``uri`` leads to an address outbound requests may not
    reach (ground/outbound.py): no retry can change that.
    """
    try:
        # §2.5: form-encoded logout_token. No redirects: only the registered URI is called.
        response = outbound.request(
            "POST",
            uri,
            timeout=settings.PORCHLIGHT_LOGOUT_TIMEOUT,
            max_bytes=MAX_RESPONSE_BYTES,
            content=urlencode({"logout_token": token}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-store"},
        )
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
    # §2.8: 200 (or 204) means the RP logged the session out.
    if response.status_code in (200, 204):
        return ""
    return f"HTTP {response.status_code}"


def logout_delivery_attempt(*, delivery_id: int) -> str:
    """Try one delivery once; return its state afterwards."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    try:
        error, refused = _post(delivery.uri, logout_token_build(delivery=delivery)), False
    except outbound.OutboundRefused as refusal:
        # The target is (now) an internal address: fail at once and say why, rather than retry.
        error, refused = refusal.reason[:ERROR_LENGTH], True
    now = timezone.now()
    target = urlsplit(delivery.uri).netloc
    with transaction.atomic():
        if not error:
            delivery.state, delivery.finished, delivery.next_attempt = (
                LogoutDelivery.State.DELIVERED,
                now,
                None,
            )
            delivery.last_error = ""
        elif refused or delivery.attempts >= settings.PORCHLIGHT_LOGOUT_ATTEMPTS:
            delivery.state, delivery.finished, delivery.next_attempt = LogoutDelivery.State.FAILED, now, None
            delivery.last_error = error
        else:
            # Exponential backoff: the first retry after the base delay, then twice as long each time.
            delay = settings.PORCHLIGHT_LOGOUT_RETRY_DELAY * 2 ** (delivery.attempts - 1)
            delivery.next_attempt, delivery.last_error = now + timedelta(seconds=delay), error
            logout_deliver.using(run_after=delivery.next_attempt).enqueue(delivery.pk)
        delivery.save(update_fields=["state", "finished", "next_attempt", "last_error"])
        if delivery.state != LogoutDelivery.State.PENDING:
            audit_record(
                action=DELIVERY_ACTIONS[LogoutDelivery.State(delivery.state)],
                target=delivery.client,
                actor_label="logout delivery",
                detail={"to": target, "sid": delivery.sid, "attempts": delivery.attempts, "error": error},
            )
    return delivery.state


@task()
def logout_deliver(delivery_id: int) -> str:
    """Deliver one back-channel logout token (the task the worker runs)."""
    return logout_delivery_attempt(delivery_id=delivery_id)


@transaction.atomic
def logout_deliveries_resume() -> int:
    """Queue again the pending deliveries whose worker stopped mid-attempt; return how many."""
    stale = timezone.now() - timedelta(seconds=settings.PORCHLIGHT_LOGOUT_TIMEOUT * 3)
    pending = list(
        LogoutDelivery.objects.filter(state=LogoutDelivery.State.PENDING, next_attempt__lt=stale).values_list(
            "pk", flat=True
        )
    )
    for delivery_id in pending:
        logout_deliver.enqueue(delivery_id)
    return len(pending)


@transaction.atomic
def logout_delivery_retry(*, delivery: LogoutDelivery, actor: User | AnonymousUser | None) -> bool:
    """Send a failed delivery again from its first attempt; return whether it was failed."""
    updated = LogoutDelivery.objects.filter(pk=delivery.pk, state=LogoutDelivery.State.FAILED).update(
        state=LogoutDelivery.State.PENDING, attempts=0, finished=None, next_attempt=timezone.now()
    )
    if updated:
        logout_deliver.enqueue(delivery.pk)
        audit_record(
            action=Action.LOGOUT_DELIVERY_RETRY,
            target=delivery.client,
            actor=actor,
            detail={"sid": delivery.sid},
        )
    return bool(updated)


def frontchannel_logout_urls(session: LoginSession) -> list[str]:
    """Return the front-channel logout URLs of the clients that used ``session`` (Front-Channel Logout §2)."""
    urls = []
    for client in session_clients(session).exclude(frontchannel_logout_uri=""):
        uri = client.frontchannel_logout_uri
        if client.frontchannel_logout_session_required:
            # §2: iss and sid as query parameters, added to any the URI already has.
            query = urlencode({"iss": oauth2_settings.OIDC_ISS_ENDPOINT, "sid": session.sid})
            uri = f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"
        urls.append(uri)
    return urls
