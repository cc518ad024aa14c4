"""What Porchlight keeps about how an account was signed up for (``SignUp``)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SignUp(models.Model):
    """An account someone made for themselves, and where it stands.

    The account is made at once, inactive (it cannot sign in): following the link mailed to its
    address makes it active, or, when staff review sign-ups, ready for review; approval makes it
    active, rejection deletes it.
    """

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", _("waiting for the e-mail address to be confirmed")
        REVIEW = "review", _("waiting for staff review")
        ACTIVE = "active", _("active")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signup")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNVERIFIED)
    created = models.DateTimeField(_("signed up"), default=timezone.now)
    verified = models.DateTimeField(_("address confirmed"), null=True, blank=True)
    reviewed = models.DateTimeField(_("approved"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The terms the person accepted (PORCHLIGHT_SIGNUP_TERMS_VERSION), and when; empty without terms.
    terms_version = models.CharField(_("terms accepted"), max_length=200, blank=True)
    terms_accepted = models.DateTimeField(_("terms accepted on"), null=True, blank=True)
    # The client network it came from, for staff reviewing it (as sign-in sessions keep theirs).
    ip = models.CharField(_("IP address"), max_length=64, blank=True)
    # Where to continue after the address is confirmed: a local path (an authorization request
    # that asked for prompt=create), checked when stored.
    next_url = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")

    def __str__(self) -> str:
        return str(_("Sign-up of %(email)s") % {"email": self.user.email})
