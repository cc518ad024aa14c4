"""How and when the user in this session authenticated (for auth_time, amr and acr).

The record lives in the session and is written only at login, so it is the real
authentication time, unlike ``user.last_login`` (OIDC Core 1.0 §2, auth_time).
"""

import secrets
import time
from dataclasses import dataclass, field

from django.http import HttpRequest

from .models import User
from .sessions import login_session_start

SESSION_KEY = "porchlight_auth"


class AuthenticatedHttpRequest(HttpRequest):
    """The request a view behind ``login_required`` gets: its user is signed in (for type checking)."""

    user: User


@dataclass(frozen=True)
class AuthContext:
    auth_time: int
    # RFC 8176 authentication method reference values, e.g. ["pwd"], ["pwd", "otp", "mfa"].
    amr: list[str] = field(default_factory=list)
    # A random id for this login session (OIDC Front/Back-Channel Logout "sid"); unlike the
    # session key it is safe to hand to relying parties.
    session_id: str = ""

    @property
    def acr(self) -> str:
        """Return the authentication context class: "mfa" when more than one factor was used."""
        return "mfa" if "mfa" in self.amr else "pwd"


def _amr(methods: list[str]) -> list[str]:
    # RFC 8176 §2: "mfa" whenever more than one kind of factor was used.
    amr = list(dict.fromkeys(methods))
    if len({m for m in amr if m != "mfa"}) > 1 and "mfa" not in amr:
        amr.append("mfa")
    return amr


def _store(request: HttpRequest, context: AuthContext) -> AuthContext:
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
    return _store(request, context)


def record_factor_added(request: HttpRequest, method: str) -> AuthContext | None:
    """Record that the session now holds the factor ``method`` too, keeping its ``auth_time``.

    Enrolling a factor proves the session holds it, so ``amr`` says so; but it is no sign-in:
    ``auth_time`` stays when the user last authenticated (OIDC Core 1.0 §2), so enrolling never
    makes the session look freshly signed in to pages that ask for that (accounts/recent_auth.py).
    """
    context = get_auth_context(request)
    if context is None:
        return None
    return _store(
        request,
        AuthContext(
            auth_time=context.auth_time, amr=_amr([*context.amr, method]), session_id=context.session_id
        ),
    )


def get_auth_context(request: HttpRequest) -> AuthContext | None:
    """Return the session's authentication context, or None if the user has not logged in."""
    if not request.user.is_authenticated:
        return None
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("auth_time"), int):
        return None
    return AuthContext(
        auth_time=data["auth_time"], amr=list(data.get("amr") or []), session_id=str(data.get("sid") or "")
    )
