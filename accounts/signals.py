"""Signal receivers for accounts."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .authentication import record_authentication


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs) -> None:
    """Record every login as a fresh password authentication; MFA steps add their methods later."""
    if request is not None and hasattr(request, "session"):
        record_authentication(request, ["pwd"])
