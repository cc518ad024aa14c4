"""Sign-outs, recorded from Django's signal: every way of signing out goes through logout()."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .actions import Action
from .services import audit_record


@receiver(user_logged_out)
def record_logout(sender, request, user, **kwargs) -> None:
    """Record the sign-out of ``user`` and the session (``sid``) it ended."""
    # Imported here: accounts imports audit, so a module-level import would be a cycle.
    from accounts.authentication import SESSION_KEY

    if user is None:
        return
    data = request.session.get(SESSION_KEY) if request is not None else None
    sid = str(data.get("sid") or "") if isinstance(data, dict) else ""
    audit_record(action=Action.LOGOUT, target=user, actor=user, detail={"sid": sid}, request=request)
