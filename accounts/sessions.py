"""Sign-in sessions as data: one ``LoginSession`` row per sign-in, keyed by the ``sid`` in ID tokens.

A row is made when a user signs in (``record_authentication``, which also writes the session's
authentication context, authentication.py) and ended when the session ends: sign-out (every
path goes through Django's ``logout()``, hence the ``user_logged_out`` receiver, which audits
it), a password change or reset, the user or staff ending it, its expiry, or the account being
deactivated.
``login_session_ended`` is sent inside the transaction that ends it, so the protocol side revokes
the session's tokens and queues its logout notices atomically (accounts never imports
oidc_provider). Ending a session elsewhere also deletes that browser's Django session.
"""

import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.actions import Action
from audit.services import audit_record
from ground.client_address import client_ip
from ground.prepared_queries import PreparedLookup

from .authentication import SESSION_KEY, AuthContext, get_auth_context, session_sid
from .models import LoginSession
from .security_notices import Change, security_notice_send

# Sent with ``session`` (the ended LoginSession) once the row is marked ended.
login_session_ended = Signal()
# Sent with ``request`` and ``session`` (the new LoginSession) when a sign-in's row is made, so an
# app above accounts can note what began it (upstream/: the upstream session, for its logout).
login_session_started = Signal()
# Sent with ``user`` after a password change or reset; offline grants die with the old password.
password_changed = Signal()
# Sent with ``user`` whenever an inactive account is saved (accounts/lifecycle/services.py, the admin's
# checkbox, a script): every token of theirs is revoked, offline ones included. On every such
# save, not only the change, so no way of turning is_active off can skip it (revoking twice is
# harmless).
account_deactivated = Signal()

USER_AGENT_LENGTH = LoginSession._meta.get_field("user_agent").max_length
# last_seen is written at most this often per session, so browsing costs no write per request.
LAST_SEEN_EVERY = timedelta(minutes=1)
LAST_SEEN_SESSION_KEY = "_porchlight_last_seen"
# Pages to load in hidden frames on the signed-out page when a session ends, one callable per
# provider of them: (session) -> list of URLs. oidc_provider adds front-channel logout here.
signed_out_frame_sources: list[Callable[[LoginSession], list[str]]] = []
SIGNED_OUT_SESSION_KEY = "_porchlight_signed_out"


def login_session_start(request: HttpRequest, *, sid: str, amr: list[str]) -> LoginSession:
    """Record a sign-in (or a step-up of the same one) as the session ``sid``."""
    now = timezone.now()
    if request.session.session_key is None:
        request.session.save()
    session_key = request.session.session_key or ""
    session, created = LoginSession.objects.get_or_create(
        sid=sid,
        defaults={
            "user": request.user,
            "created": now,
            "last_seen": now,
            "expires": now + timedelta(seconds=settings.SESSION_COOKIE_AGE),
            "amr": amr,
            "ip": client_ip(request) or "",
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
            "session_key": session_key,
        },
    )
    if created:
        login_session_started.send(sender=LoginSession, request=request, session=session)
    elif (session.amr, session.session_key) != (amr, session_key):
        # A step-up: login() cycled the Django session key.
        session.amr, session.session_key, session.last_seen = amr, session_key, now
        session.save(update_fields=["amr", "session_key", "last_seen"])
    return session


def _amr(methods: list[str]) -> list[str]:
    # RFC 8176 §2: "mfa" whenever more than one kind of factor was used.
    amr = list(dict.fromkeys(methods))
    if len({m for m in amr if m != "mfa"}) > 1 and "mfa" not in amr:
        amr.append("mfa")
    return amr


def _context_store(request: HttpRequest, context: AuthContext) -> AuthContext:
    request.session[SESSION_KEY] = {
        "auth_time": context.auth_time,
        "amr": context.amr,
        "sid": context.session_id,
    }
    login_session_start(request, sid=context.session_id, amr=context.amr)
    return context


def record_authentication(request: HttpRequest, methods: list[str]) -> AuthContext:
    """Record in the session that the user has just authenticated with ``methods``."""
    previous = request.session.get(SESSION_KEY)
    session_id = previous.get("sid") if isinstance(previous, dict) else None
    context = AuthContext(
        auth_time=int(time.time()), amr=_amr(methods), session_id=session_id or secrets.token_urlsafe(24)
    )
    return _context_store(request, context)


def record_factor_added(request: HttpRequest, method: str) -> AuthContext | None:
    """Record that the session now holds the factor ``method`` too, keeping its ``auth_time``.

    Enrolling a factor proves the session holds it, so ``amr`` says so; but it is no sign-in:
    ``auth_time`` stays when the user last authenticated (OIDC Core 1.0 §2), so enrolling never
    makes the session look freshly signed in to pages that ask for that (accounts/recent_auth.py).
    """
    context = get_auth_context(request)
    if context is None:
        return None
    return _context_store(
        request,
        AuthContext(
            auth_time=context.auth_time, amr=_amr([*context.amr, method]), session_id=context.session_id
        ),
    )


# Looked up on every code exchange and refresh: its SQL is compiled once per connection.
_OPEN_SESSION_BY_SID = PreparedLookup(
    LoginSession, lambda sid: LoginSession.objects.filter(sid=sid, ended__isnull=True)
)


def login_session_active(sid: str) -> LoginSession | None:
    """Return the live session ``sid``, or None when it ended, expired or never existed."""
    session = _OPEN_SESSION_BY_SID.first(sid) if sid else None
    return session if session is not None and session.expires > timezone.now() else None


@transaction.atomic
def login_sessions_end(*, sessions: QuerySet, reason: str, actor=None) -> int:
    """End every session in ``sessions`` not yet ended; return how many ended.

    The receivers of ``login_session_ended`` run in this transaction: token revocation and the
    queued logout notices commit with the session's end, or not at all.
    """
    ended = list(sessions.filter(ended__isnull=True).select_for_update())
    now = timezone.now()
    engine = import_module(settings.SESSION_ENGINE)
    for session in ended:
        session.ended, session.end_reason = now, reason
        session.save(update_fields=["ended", "end_reason"])
        if session.session_key and reason != LoginSession.EndReason.LOGOUT:
            # Ended from another browser or by staff: sign that browser out too. (A logout
            # flushes its own session.)
            engine.SessionStore(session_key=session.session_key).delete()
        login_session_ended.send(sender=LoginSession, session=session)
        if actor is not None:
            audit_record(
                action=Action.SESSION_END,
                target=session.user,
                actor=actor,
                detail={"sid": session.sid, "reason": reason},
            )
    return len(ended)


def login_session_end(*, sid: str, reason: str, actor=None) -> bool:
    """End the session ``sid``; return whether it was live."""
    if not sid:
        return False
    return login_sessions_end(sessions=LoginSession.objects.filter(sid=sid), reason=reason, actor=actor) > 0


def login_sessions_expire() -> int:
    """End the sessions whose lifetime is over, so their apps are told; return how many."""
    return login_sessions_end(
        sessions=LoginSession.objects.filter(expires__lte=timezone.now()),
        reason=LoginSession.EndReason.EXPIRED,
    )


def login_session_frames(session: LoginSession) -> list[str]:
    """Return the pages to load in hidden frames now that ``session`` has ended."""
    return [url for source in signed_out_frame_sources for url in source(session)]


def signed_out_page_prepare(
    request: HttpRequest, *, session: LoginSession | None, next_url: str = ""
) -> bool:
    """Remember for the signed-out page what it must load and where it goes next; return if any."""
    frames = login_session_frames(session) if session is not None else []
    if not frames:
        return False
    request.session[SIGNED_OUT_SESSION_KEY] = {"frames": frames, "next": next_url}
    return True


def signed_out_page_take(request: HttpRequest) -> dict:
    """Return (once) what the signed-out page must load and where it goes next."""
    return request.session.pop(SIGNED_OUT_SESSION_KEY, None) or {"frames": [], "next": ""}


def login_session_current(request: HttpRequest) -> LoginSession | None:
    """Return the LoginSession of the signed-in browser making ``request``, live or not."""
    sid = session_sid(request)
    if not sid:
        return None
    return LoginSession.objects.filter(sid=sid).first()


# (token in the User-Agent, name shown), most specific first: Edge and Opera also say Chrome,
# Chrome also says Safari.
_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
_SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def user_agent_summary(user_agent: str) -> str:
    """Return "Browser on OS" for a User-Agent header, as people recognise their devices."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    if browser and system:
        # Translators: a browser and the system it runs on, e.g. "Firefox on Windows".
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown browser")


def login_sessions_live(*, user) -> list[LoginSession]:
    """Return ``user``'s live sessions, newest first, with the apps used in each."""
    return list(
        LoginSession.objects.filter(user=user, ended__isnull=True, expires__gt=timezone.now())
        .prefetch_related("client_links__client")
        .order_by("-last_seen", "-created")
    )


class LastSeenMiddleware:
    """Note when a signed-in browser was last seen, at most once a minute per session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Protocol endpoints carry no session cookie: they are not slowed by this.
        if settings.SESSION_COOKIE_NAME in request.COOKIES and hasattr(request, "session"):
            self._touch(request)
        return self.get_response(request)

    @staticmethod
    def _touch(request) -> None:
        sid = session_sid(request)
        if not sid:
            return
        now = timezone.now()
        last = request.session.get(LAST_SEEN_SESSION_KEY, 0)
        if now.timestamp() - last < LAST_SEEN_EVERY.total_seconds():
            return
        live = LoginSession.objects.filter(sid=sid, ended__isnull=True).update(last_seen=now)
        if not live:
            # Ended elsewhere while this browser's session survived (e.g. its key had changed).
            logout(request)
            return
        request.session[LAST_SEEN_SESSION_KEY] = int(now.timestamp())


def password_change_record(*, request: HttpRequest, user, keep_sid: str = "") -> int:
    """End the user's sessions but ``keep_sid`` after a password change or reset; return how many ended."""
    ended = login_sessions_end(
        sessions=LoginSession.objects.filter(user=user).exclude(sid=keep_sid),
        reason=LoginSession.EndReason.PASSWORD_CHANGED,
    )
    if keep_sid:
        # The password change gave this browser a new session key; keep the record pointing at it.
        LoginSession.objects.filter(sid=keep_sid).update(session_key=request.session.session_key or "")
    password_changed.send(sender=LoginSession, user=user)
    audit_record(
        action=Action.PASSWORD_CHANGED,
        target=user,
        actor=user if request.user.is_authenticated else None,
        actor_label="" if request.user.is_authenticated else "password reset link",
        detail={"sessions_ended": ended, "kept_this_session": bool(keep_sid), "ip": client_ip(request) or ""},
        request=request,
    )
    security_notice_send(
        user=user,
        change=Change.PASSWORD_CHANGED,
        detail=_("Every other sign-in of yours was ended, and every app has to ask you again."),
    )
    return ended


@receiver(user_logged_out)
def end_session_on_logout(sender, request, user, **kwargs) -> None:
    """Audit the sign-out with the session (``sid``) it ends, then end that session's record.

    Every way of signing out goes through Django's ``logout()``, which sends the signal.
    """
    sid = session_sid(request) if request is not None else ""
    if user is not None:
        audit_record(action=Action.LOGOUT, target=user, actor=user, detail={"sid": sid}, request=request)
    if sid:
        login_session_end(sid=sid, reason=LoginSession.EndReason.LOGOUT)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def end_sessions_on_deactivation(sender, instance, **kwargs) -> None:
    """A deactivated account is signed out everywhere, its tokens revoked, and its apps are told."""
    if not instance.is_active:
        login_sessions_end(
            sessions=LoginSession.objects.filter(user=instance), reason=LoginSession.EndReason.DEACTIVATED
        )
        account_deactivated.send(sender=sender, user=instance)
