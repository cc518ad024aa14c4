"""How and when the user in this session authenticated (for auth_time, amr and acr).

The record lives in the session under ``SESSION_KEY`` and is written only at sign-in
(``sessions.record_authentication``), so it is the real authentication time, unlike
``user.last_login`` (OIDC Core 1.0 §2, auth_time). Its ``sid`` names the sign-in's
``LoginSession`` row.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_backends
from django.http import HttpRequest

from .models import User

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


def session_sid(request: HttpRequest) -> str:
    """Return the ``sid`` of the sign-in this browser's session holds, or "" when it holds none."""
    data = request.session.get(SESSION_KEY)
    return str(data.get("sid") or "") if isinstance(data, dict) else ""


class SignInUnavailable(Exception):
    """Raised by an authentication backend that cannot judge the password now (its directory is down).

    The sign-in form shows the message instead of "not correct", and the attempt counts neither as
    a failure nor a success. Other backends (local accounts) are unaffected: Django tries them first.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def password_managed_elsewhere(user: User) -> str:
    """Return why ``user`` cannot change their password here (a backend owns it), or "" when they can.

    A backend says so with a ``password_managed_elsewhere(user) -> str`` method (directory/backends.py).
    """
    for backend in get_backends():
        managed = getattr(backend, "password_managed_elsewhere", None)
        if managed is not None and (message := managed(user)):
            return str(message)
    return ""
