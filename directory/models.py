"""Which accounts belong to an LDAP directory or Active Directory, and when they were last read."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DirectoryAccount(models.Model):
    """A Porchlight account made by, and kept in step with, a directory entry.

    Its password is the directory's (the account's own is unusable); the scheduled sync reads the
    entry again and deactivates the account when the entry is gone or disabled.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_account"
    )
    dn = models.CharField(_("distinguished name"), max_length=1024)
    # The entry's own identifier, which no other entry ever has: OpenLDAP's entryUUID (RFC 4530)
    # or Active Directory's objectGUID (hex). A username the directory gives again to a new entry
    # does not reach this account: that entry's identifier differs (backends.DirectoryBackend).
    entry_id = models.CharField(_("directory entry identifier"), max_length=64, blank=True)
    created = models.DateTimeField(_("first signed in"), auto_now_add=True)
    # When the entry was last read (a sign-in or the sync); the sync takes the oldest first.
    synced = models.DateTimeField(_("last read from the directory"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("directory account")
        verbose_name_plural = _("directory accounts")

    def __str__(self) -> str:
        return self.dn
