"""Writing audit records, deleting those older than the retention period, and anonymising them."""

from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ground.batches import batched_delete
from ground.client_address import client_ip

from .actions import Action
from .models import AuditEvent

USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length
TARGET_LENGTH = AuditEvent._meta.get_field("target").max_length


def audit_target(target: models.Model | str) -> tuple[str, str, str]:
    """Return the (type, id, label) an event records for ``target``: a row, or a plain label.

    Users are labelled by username and clients by client_id, as staff search for them.
    """
    if not isinstance(target, models.Model):
        return "", "", str(target)
    label = target._meta.label
    if label == settings.AUTH_USER_MODEL and isinstance(target, AbstractBaseUser):
        return "user", str(target.pk), target.get_username()
    if label == settings.OAUTH2_PROVIDER_APPLICATION_MODEL:
        # The client model is oidc_provider's, which audit does not import: its field by name.
        return "client", str(target.pk), target.serializable_value("client_id")
    return target._meta.model_name or "", str(target.pk), str(target)


def about(target: models.Model) -> Q:
    """Return the condition for events about the row ``target`` (by its type and key, never its label)."""
    target_type, target_id, _ = audit_target(target)
    return Q(target_type=target_type, target_id=target_id)


def events_about(user: AbstractBaseUser) -> QuerySet[AuditEvent]:
    """Return the events ``user`` did or that are about their account."""
    return AuditEvent.objects.filter(Q(actor=user) | about(user))


def audit_record(
    *,
    action: Action,
    target: models.Model | str = "",
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_label: str = "",
    detail: Mapping[str, object] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record that ``actor`` (a user, or ``actor_label`` for the system) did ``action`` to ``target``.

    ``target`` is the row the event is about (a user, a client, ...) or, for what is no row (a
    username typed at a failed login), a label. With ``request``, the client's address and user
    agent are recorded too.
    """
    # The acting user's row, when a signed-in user acted (``request.user`` may be anonymous).
    user = actor if isinstance(actor, get_user_model()) else None
    meta = getattr(request, "META", None) or {}
    target_type, target_id, label = audit_target(target)
    return AuditEvent.objects.create(
        action=action,
        # A username as typed at a failed login can be anything, of any length.
        target=label[:TARGET_LENGTH],
        target_type=target_type,
        target_id=target_id,
        actor=user,
        actor_label=actor_label or (user.get_username() if user is not None else "system"),
        detail=detail or {},
        ip=(client_ip(request) or "") if request is not None else "",
        user_agent=str(meta.get("HTTP_USER_AGENT", ""))[:USER_AGENT_LENGTH],
    )


# What an anonymised event shows where a person's identifier or address was.
ERASED = "[erased]"
# Detail keys whose values say where a request came from.
CLIENT_KEYS = {"ip", "user_agent"}


def _scrubbed(value: object, names: set[str]) -> object:
    """Return ``value`` without ``names`` or e-mail addresses in it, nor client addresses."""
    if isinstance(value, dict):
        return {key: _scrubbed(item, names) for key, item in value.items() if key not in CLIENT_KEYS}
    if isinstance(value, list):
        return [_scrubbed(item, names) for item in value]
    if isinstance(value, str) and (value.casefold() in names or "@" in value):
        return ERASED
    return value


def audit_events_anonymise(*, user: AbstractBaseUser, identifiers: Iterable[str], label: str) -> int:
    """Remove who ``user`` was from the events by or about them, keeping what happened; return how many.

    An event about them (recorded as about their account, or its target one of ``identifiers``,
    their old username or e-mail, as typed) gets ``label`` as target; one by them gets it as
    actor. Either loses the client's IP and user agent, and e-mail-like or identifying values in
    its detail (GDPR Art. 17).
    """
    names = {name.casefold() for name in identifiers if name}
    matching = Q(actor=user) | about(user)
    for name in names:
        # A lockout's target is "account: password <name>" (accounts/throttling.py).
        matching |= Q(target__iexact=name) | (Q(target__contains=":") & Q(target__iendswith=f" {name}"))
    typed = audit_target(user)[:2]
    changed = 0
    for event in AuditEvent.objects.filter(matching).iterator():
        if event.actor_id == user.pk:
            event.actor_label = label
        named = event.target.casefold() in names or event.target.casefold().rsplit(" ", 1)[-1] in names
        if named or (event.target_type, event.target_id) == typed:
            event.target = label
        event.detail = _scrubbed(event.detail, names)
        event.ip = event.user_agent = ""
        event.save(update_fields=["actor_label", "target", "detail", "ip", "user_agent"])
        changed += 1
    return changed


def audit_purge(*, days: int | None = None, batch_size: int = 1000) -> int:
    """Delete events older than ``days`` (default: the retention setting) in batches; return how many."""
    if days is None:
        days = settings.PORCHLIGHT["AUDIT_RETENTION_DAYS"]
    cutoff = timezone.now() - timedelta(days=days)
    # Small batches keep each delete's locks short on a large table that logins write to.
    deleted = batched_delete(AuditEvent.objects.filter(created__lt=cutoff), batch_size=batch_size)
    if deleted:
        audit_record(
            action=Action.AUDIT_PURGE,
            actor_label="audit retention",
            detail={"deleted": deleted, "days": days},
        )
    return deleted
