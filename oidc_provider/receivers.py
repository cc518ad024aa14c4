"""What the protocol side does when the accounts side reports a session or password event."""

from django.dispatch import receiver

from accounts.sessions import login_session_ended, password_changed

from .tokens import offline_tokens_revoke, session_tokens_revoke


@receiver(login_session_ended)
def revoke_session_tokens(sender, session, **kwargs) -> None:
    """A session-bound refresh token dies with its sign-in session (OIDC Core 1.0 §11)."""
    session_tokens_revoke(sid=session.sid)


@receiver(password_changed)
def revoke_offline_tokens(sender, user, **kwargs) -> None:
    """Offline access granted under the old password ends with it (RFC 9700 §4.14.2)."""
    offline_tokens_revoke(user=user)
