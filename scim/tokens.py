"""Provisioning clients' bearer tokens (RFC 7644 §2: OAuth 2.0 bearer tokens, RFC 6750).

A token is ``<key_id>.<secret>``. Only the secret's SHA-256 is stored; the public ``key_id`` finds
the row, and the presented secret's hash is compared with ``hmac.compare_digest``, so how long a
wrong token took to refuse says nothing about the right one.
"""

import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum

from .models import ProvisioningClient

# last_used is written at most this often per client: a sync of 10,000 accounts is not 10,000 writes.
LAST_USED_PRECISION = timedelta(minutes=1)


@transaction.atomic
def provisioning_client_create(
    *, name: str, created_by: User | None = None, actor_label: str = ""
) -> tuple[ProvisioningClient, str]:
    """Create a provisioning client named ``name``; return it with its token, shown this once."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    client = ProvisioningClient.objects.create(
        name=name, key_id=key_id, token_hash=token_checksum(secret), created_by=created_by
    )
    audit_record(action=Action.SCIM_CLIENT_CREATE, target=name, actor=created_by, actor_label=actor_label)
    return client, f"{key_id}.{secret}"


@transaction.atomic
def provisioning_client_revoke(*, client: ProvisioningClient, actor: User | None) -> bool:
    """Stop ``client``'s token working; return False when it was revoked already."""
    revoked = ProvisioningClient.objects.filter(pk=client.pk, revoked__isnull=True).update(
        revoked=timezone.now()
    )
    if revoked:
        audit_record(action=Action.SCIM_CLIENT_REVOKE, target=client.name, actor=actor)
    return bool(revoked)


def provisioning_client_authenticate(value: str) -> ProvisioningClient | None:
    """Return the live provisioning client whose token is ``value``, or None."""
    key_id, dot, secret = value.partition(".")
    if not dot or not key_id or not secret:
        return None
    client = ProvisioningClient.objects.filter(key_id=key_id, revoked__isnull=True).first()
    # The hash is computed whether or not the key id was found: the same work either way.
    presented = token_checksum(secret)
    if client is None or not hmac.compare_digest(presented, client.token_hash):
        return None
    now = timezone.now()
    if client.last_used is None or client.last_used < now - LAST_USED_PRECISION:
        ProvisioningClient.objects.filter(pk=client.pk).update(last_used=now)
        client.last_used = now
    return client
