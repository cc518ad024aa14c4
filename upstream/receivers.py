"""Tie each new sign-in session to the upstream sign-in that began it; an erased account keeps no link."""

from django.dispatch import receiver

from accounts.lifecycle.services import account_erased
from accounts.models import LoginSession, User
from accounts.sessions import login_session_started

from .flows import upstream_session_record
from .models import LinkedIdentity


@receiver(login_session_started, sender=LoginSession)
def _login_session_started(sender, *, request, session: LoginSession, **kwargs) -> None:
    upstream_session_record(request, session)


@receiver(account_erased)
def _account_erased(sender, *, user: User, **kwargs) -> None:
    # Its upstream subject and address are personal data; the tombstone keeps no way back in.
    LinkedIdentity.objects.filter(user=user).delete()
