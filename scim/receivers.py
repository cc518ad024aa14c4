"""What SCIM does when the accounts side reports an account event."""

from typing import Any

from django.dispatch import receiver

from accounts.lifecycle.services import account_erased
from accounts.models import User

from .models import ProvisionedUser


@receiver(account_erased)
def delete_provisioned_attributes(sender: object, user: User, **kwargs: Any) -> None:
    """An erased account keeps no displayName or externalId (GDPR Art. 17), as it keeps no name."""
    ProvisionedUser.objects.filter(user=user).delete()
