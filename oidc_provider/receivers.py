"""What the protocol side does when the accounts side reports a session, password or account event."""

from typing import Any

from django.dispatch import receiver

from accounts.attributes import attribute_sources
from accounts.lifecycle.services import account_erased
from accounts.models import LoginSession, User
from accounts.sessions import (
    account_deactivated,
    login_session_ended,
    password_changed,
    signed_out_frame_sources,
)
from accounts.visibility import field_readers

from .consent import consent_field_readers
from .custom_claims import attributes
from .logout import frontchannel_logout_urls, logout_deliveries_queue
from .tokens import (
    offline_tokens_revoke,
    session_tokens_revoke,
    user_grants_void,
    user_protocol_data_delete,
    user_tokens_revoke,
)

# Front-Channel Logout 1.0 §4: the signed-out page loads these.
signed_out_frame_sources.append(frontchannel_logout_urls)
# The profile page says which apps see each field.
field_readers.append(consent_field_readers)
# The profile page and the user admin show the attributes behind the claims staff define.
attribute_sources.append(attributes)


@receiver(login_session_ended)
def revoke_session_tokens(sender: object, session: LoginSession, **kwargs: Any) -> None:
    """A session-bound refresh token dies with its sign-in session (OIDC Core 1.0 §11).

    In the same transaction, every app that used the session is queued a back-channel logout
    (Back-Channel Logout 1.0 §2.5).
    """
    session_tokens_revoke(sid=session.sid)
    logout_deliveries_queue(session=session)


@receiver(password_changed)
def revoke_offline_tokens(sender: object, user: User, **kwargs: Any) -> None:
    """Offline access granted under the old password ends with it (RFC 9700 §4.14.2)."""
    offline_tokens_revoke(user=user)


@receiver(account_deactivated)
def revoke_user_tokens(sender: object, user: User, **kwargs: Any) -> None:
    """A deactivated account keeps no token, offline ones included, and no code left to redeem."""
    user_tokens_revoke(user=user)
    user_grants_void(user=user)


@receiver(account_erased)
def delete_user_protocol_data(sender: object, user: User, **kwargs: Any) -> None:
    """An erased account leaves no token, code, device grant or consent behind."""
    user_protocol_data_delete(user=user)
