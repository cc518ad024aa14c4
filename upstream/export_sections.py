"""What upstream sign-in adds to a person's data export (accounts/export/services.py): linked identities."""

from typing import Any

from accounts.export.services import EXPORT_SECTIONS
from accounts.models import User

from .models import LinkedIdentity


def linked_identities_section(user: User) -> list[dict[str, Any]]:
    """Return the upstream identities linked to ``user``: provider, subject there, address, dates."""
    return [
        {
            "provider": identity.provider.label,
            "subject": identity.subject,
            "email": identity.email,
            "linked": identity.linked_at,
            "last_used": identity.last_used,
        }
        for identity in LinkedIdentity.objects.filter(user=user).select_related("provider").order_by("pk")
    ]


EXPORT_SECTIONS["linked_identities"] = linked_identities_section
