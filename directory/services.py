"""The scheduled directory sync: read directory accounts again, deactivate those the directory dropped.

Run by housekeeping (oidc_provider/housekeeping.py) on every pass; each pass reads the accounts
not read for ``PORCHLIGHT_LDAP_SYNC_INTERVAL`` seconds, oldest first, at most ``limit`` of them,
so a large directory is spread over several passes. Attributes and mapped groups are updated as
at a sign-in. An account whose entry is gone, disabled (Active Directory's userAccountControl),
out of the required group or in the denied group is deactivated exactly as staff deactivate one
(accounts/lifecycle/services.py: sessions end, tokens are revoked, apps are told).

A directory that does not answer stops the pass before it judges anyone: an outage never
deactivates accounts.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from accounts.lifecycle.services import account_deactivate
from audit.actions import Action
from audit.services import audit_record

from .models import DirectoryAccount

logger = logging.getLogger(__name__)

SYNC_BATCH = 500


def directory_accounts_sync(*, limit: int = SYNC_BATCH, everyone: bool = False) -> dict[str, int]:
    """Read the directory accounts that are due (all active ones with ``everyone``); return counts."""
    config = settings.PORCHLIGHT_LDAP
    if config is None:
        return {}
    # Only with directory sign-in on is django-auth-ldap (an optional extra) importable.
    from .backends import DirectoryBackend, DirectoryUnreachable

    due = DirectoryAccount.objects.filter(user__is_active=True, user__erased__isnull=True)
    if not everyone:
        stale = timezone.now() - timedelta(seconds=config["SYNC_INTERVAL"])
        due = due.filter(Q(synced__isnull=True) | Q(synced__lt=stale))
    accounts = list(due.select_related("user").order_by("synced", "pk")[:limit])
    counts = {"directory_synced": 0, "directory_deactivated": 0}
    if not accounts:
        return counts
    backend = DirectoryBackend()
    try:
        backend.directory_check()
        for account in accounts:
            reason = backend.account_sync(account)
            counts["directory_synced"] += 1
            if reason and directory_account_deactivate(account=account, reason=reason):
                counts["directory_deactivated"] += 1
    except DirectoryUnreachable as unreachable:
        logger.warning("directory sync stopped: the directory did not answer (%s)", unreachable)
        audit_record(
            action=Action.DIRECTORY_UNREACHABLE,
            target="directory sync",
            actor_label="directory sync",
            detail={"error": str(unreachable)},
        )
        counts["directory_unreachable"] = 1
    return counts


def directory_account_deactivate(*, account: DirectoryAccount, reason: str) -> bool:
    """Deactivate ``account``'s user as staff would; return whether it was."""
    try:
        account_deactivate(user=account.user, actor=None, actor_label="directory sync", reason=reason)
    except ValidationError as refused:
        # The only active superuser stays: somebody must be able to reach the admin.
        logger.warning("directory sync kept %s active: %s", account.user, " ".join(refused.messages))
        return False
    return True
