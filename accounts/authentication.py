"""How and when the user in this session authenticated (for auth_time, amr and acr).

The record lives in the session and is written only at login, so it is the real
authentication time, unlike ``user.last_login`` (OIDC Core 1.0 §2, auth_time).
"""

import secrets
import time
from dataclasses import dataclass, field

from django.http import HttpRequest

from .sessions import login_session_start

SESSION_KEY = "porchlight_auth"


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


def record_authentication(request: HttpRequest, methods: list[str]) -> AuthContext:
    """Record in the session that the user has just authenticated with ``methods``."""
    amr = list(dict.fromkeys(methods))
    if len({m for m in amr if m != "mfa"}) > 1 and "mfa" not in amr:
        amr.append("mfa")
    previous = request.session.get(SESSION_KEY)
    session_id = previous.get("sid") if isinstance(previous, dict) else None
    context = AuthContext(
        auth_time=int(time.time()), amr=amr, session_id=session_id or secrets.token_urlsafe(24)
    )
    request.session[SESSION_KEY] = {
        "auth_time": context.auth_time,
        "amr": context.amr,
        "sid": context.session_id,
    }
    login_session_start(request, sid=context.session_id, amr=context.amr)
    return context


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
