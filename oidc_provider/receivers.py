"""What the protocol side does when the accounts side reports a session or password event."""

from django.dispatch import receiver

from accounts.sessions import login_session_ended, password_changed, signed_out_frame_sources

from .logout import frontchannel_logout_urls, logout_deliveries_queue
from .tokens import offline_tokens_revoke, session_tokens_revoke

# Front-Channel Logout 1.0 §4: the signed-out page loads these.
signed_out_frame_sources.append(frontchannel_logout_urls)


@receiver(login_session_ended)
def revoke_session_tokens(sender, session, **kwargs) -> None:
    """A session-bound refresh token dies with its sign-in session (OIDC Core 1.0 §11).

    In the same transaction, every app that used the session is queued a back-channel logout
    (Back-Channel Logout 1.0 §2.5).
    """
    session_tokens_revoke(sid=session.sid)
    logout_deliveries_queue(session=session)


@receiver(password_changed)
def revoke_offline_tokens(sender, user, **kwargs) -> None:
    """Offline access granted under the old password ends with it (RFC 9700 §4.14.2)."""
    offline_tokens_revoke(user=user)
