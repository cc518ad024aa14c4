"""What the directory app does when accounts/ changes an account."""

from typing import Any

from django.dispatch import receiver

from accounts.lifecycle.services import account_erased

from .models import DirectoryAccount


@receiver(account_erased, dispatch_uid="directory-account-erased")
def forget_erased_account(sender: Any, user: Any, **kwargs: Any) -> None:
    # The entry's DN names the person; an erased account keeps nothing that says who it was.
    DirectoryAccount.objects.filter(user=user).delete()
