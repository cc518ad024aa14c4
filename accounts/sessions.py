"""Sign-in sessions as data: one ``LoginSession`` row per sign-in, keyed by the ``sid`` in ID tokens.

A row is made when a user signs in and ended when the session ends: sign-out (every path goes
through Django's ``logout()``, hence the ``user_logged_out`` receiver), a password change, or
staff. ``login_session_ended`` tells the protocol side, which revokes the session-bound tokens
(accounts never imports oidc_provider).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.dispatch import Signal, receiver
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record

from .models import LoginSession
from .throttling import client_ip

# Sent with ``session`` (the ended LoginSession) once the row is marked ended.
login_session_ended = Signal()
# Sent with ``user`` after a password change or reset; offline grants die with the old password.
password_changed = Signal()

USER_AGENT_LENGTH = LoginSession._meta.get_field("user_agent").max_length


def login_session_start(request: HttpRequest, *, sid: str, amr: list[str]) -> LoginSession:
    """Record a sign-in (or a step-up of the same one) as the session ``sid``."""
    now = timezone.now()
    session, created = LoginSession.objects.get_or_create(
        sid=sid,
        defaults={
            "user": request.user,
            "created": now,
            "expires": now + timedelta(seconds=settings.SESSION_COOKIE_AGE),
            "amr": amr,
            "ip": client_ip(request) or "",
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
        },
    )
    if not created and session.amr != amr:
        session.amr = amr
        session.save(update_fields=["amr"])
    return session


def login_session_active(sid: str) -> LoginSession | None:
    """Return the live session ``sid``, or None when it ended, expired or never existed."""
    if not sid:
        return None
    return LoginSession.objects.filter(sid=sid, ended__isnull=True, expires__gt=timezone.now()).first()


@transaction.atomic
def login_sessions_end(*, sessions, reason: str) -> int:
    """End every live session in the queryset ``sessions``; return how many ended."""
    ended = list(sessions.filter(ended__isnull=True).select_for_update())
    now = timezone.now()
    for session in ended:
        session.ended, session.end_reason = now, reason
        session.save(update_fields=["ended", "end_reason"])
        login_session_ended.send(sender=LoginSession, session=session)
    return len(ended)


def login_session_end(*, sid: str, reason: str) -> bool:
    """End the session ``sid``; return whether it was live."""
    return bool(sid) and login_sessions_end(sessions=LoginSession.objects.filter(sid=sid), reason=reason) > 0


def password_change_record(*, request: HttpRequest, user, keep_sid: str = "") -> int:
    """End the user's sessions but ``keep_sid`` after a password change or reset; return how many ended."""
    ended = login_sessions_end(
        sessions=LoginSession.objects.filter(user=user).exclude(sid=keep_sid),
        reason=LoginSession.EndReason.PASSWORD_CHANGED,
    )
    password_changed.send(sender=LoginSession, user=user)
    audit_record(
        action="password_changed",
        target=user.get_username(),
        actor=user if request.user.is_authenticated else None,
        actor_label="" if request.user.is_authenticated else "password reset link",
        detail={"sessions_ended": ended, "kept_this_session": bool(keep_sid), "ip": client_ip(request) or ""},
    )
    return ended


@receiver(user_logged_out)
def end_session_on_logout(sender, request, user, **kwargs) -> None:
    """End the signing-out session's record (every sign-out path calls logout())."""
    from .authentication import SESSION_KEY

    data = request.session.get(SESSION_KEY) if request is not None else None
    if isinstance(data, dict) and data.get("sid"):
        login_session_end(sid=str(data["sid"]), reason=LoginSession.EndReason.LOGOUT)
