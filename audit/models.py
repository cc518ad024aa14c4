"""One audit record per security-relevant action (key rotation, client changes, logins...)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .actions import action_label


class AuditEvent(models.Model):
    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who acted when no user did, e.g. "rotatekeys command".
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    # What the event is about: its kind ("user", "client", ...) and primary key when it is a row,
    # so a person's events are found by who they are, never by a name another row could share;
    # ``target`` is the label shown (a username, a client_id, text typed at a form).
    target = models.CharField(_("target"), max_length=255, blank=True)
    target_type = models.CharField(_("target type"), max_length=32, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # Where the request came from (ground/client_address.client_ip: an IPv4 address or an IPv6 /64),
    # blank for commands and background work.
    ip = models.CharField(_("IP address"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_event_target")]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.action} {self.target}"

    @property
    def label(self) -> str:
        """What happened, in words (the action code stays what logs and exports carry)."""
        return action_label(self.action)
