"""Tie each new sign-in session to the upstream sign-in that began it (upstream/flows.py)."""

from django.dispatch import receiver

from accounts.models import LoginSession
from accounts.sessions import login_session_started

from .flows import upstream_session_record


@receiver(login_session_started, sender=LoginSession)
def _login_session_started(sender, *, request, session: LoginSession, **kwargs) -> None:
    upstream_session_record(request, session)
