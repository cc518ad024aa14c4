"""What SCIM adds to a person's data export (accounts/export/services.py): what a provisioning
client said about them that no user column holds."""

from typing import Any

from accounts.export.services import EXPORT_SECTIONS
from accounts.models import User

from .models import ProvisionedUser


def provisioning_section(user: User) -> dict[str, Any] | None:
    """Return the SCIM externalId and displayName kept for ``user``, or None when none was provisioned."""
    extra = ProvisionedUser.objects.filter(user=user).first()
    if extra is None:
        return None
    return {"scim_external_id": extra.external_id, "scim_display_name": extra.display_name}


EXPORT_SECTIONS.update({"provisioning": provisioning_section})
