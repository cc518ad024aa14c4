"""Writing audit records."""

from .models import AuditEvent


def audit_record(
    *, action: str, target: str = "", actor=None, actor_label: str = "", detail: dict | None = None
) -> AuditEvent:
    """Record that ``actor`` (a user, or ``actor_label`` for the system) did ``action`` to ``target``."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        action=action,
        target=target,
        actor=actor if is_user else None,
        actor_label=actor_label or (actor.get_username() if is_user else "system"),
        detail=detail or {},
    )
