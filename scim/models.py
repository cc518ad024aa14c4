"""Who may provision (a client with a token kept only as a hash) and the SCIM-only attributes of
the accounts and groups it provisions."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ProvisioningClient(models.Model):
    """A SCIM client (Microsoft Entra, Okta, an HR tool) and the bearer token it calls with.

    The token is ``<key_id>.<secret>``: ``key_id`` finds the row, and the secret's SHA-256 is
    compared in constant time (scim/tokens.py). Staff see the token once, when it is made.
    """

    name = models.CharField(_("name"), max_length=100, help_text=_("Which system provisions with it."))
    key_id = models.CharField(_("key ID"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
    )
    # Recorded at most once a minute (tokens.py), so a busy sync does not write on every request.
    last_used = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    # Not stored: the token's value, for the one admin response that shows it.
    new_value: str | None = None

    class Meta:
        ordering = ["name"]
        verbose_name = _("SCIM provisioning client")
        verbose_name_plural = _("SCIM provisioning clients")
        constraints = [
            # A revoked client's name may be used again by its successor.
            models.UniqueConstraint(
                fields=["name"], condition=Q(revoked__isnull=True), name="scim_client_name_unique_live"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ProvisionedUser(models.Model):
    """What SCIM says about an account that no column of the user holds (RFC 7643 §3.1, §4.1.1)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="scim"
    )
    # RFC 7643 §3.1: the provisioning client's own identifier for the account (caseExact).
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    display_name = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("provisioned user")
        verbose_name_plural = _("provisioned users")


class ProvisionedGroup(models.Model):
    """A group's SCIM externalId and the times SCIM reports for it (Django's groups keep none)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, primary_key=True, related_name="scim")
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("provisioned group")
        verbose_name_plural = _("provisioned groups")
