"""The user: Django's AbstractUser plus the OIDC standard claim fields (OIDC Core 1.0 §5.1)."""

from collections.abc import Collection
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ground.rows import row_object

# The MFA devices live with the rest of MFA; importing them here makes them accounts models.
from .mfa.models import RecoveryCode, RecoveryCodeDevice, TOTPAuthenticator  # noqa: F401
from .signup.models import SignUp  # noqa: F401
from .subjects import configured_format, random_subject

# Draws of a new subject before giving up: a second collision in a row is the random source failing.
SUBJECT_DRAWS = 5


def new_subject() -> str:
    """Return a fresh subject identifier: random, not derived from any user attribute."""
    return random_subject(configured_format())


class User(AbstractUser):
    # OIDC Core 1.0 §2: sub is locally unique and never reassigned. It is random (never the
    # pk, username or email, which are sequential or may change) and immutable once saved.
    subject = models.CharField(
        _("subject identifier"), max_length=64, unique=True, default=new_subject, editable=False
    )

    # first_name / last_name from AbstractUser serve as given_name / family_name.
    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    nickname = models.CharField(_("nickname"), max_length=150, blank=True)
    preferred_username = models.CharField(
        _("preferred username"),
        max_length=150,
        blank=True,
        help_text=_("Shown to apps as preferred_username; the login username is used when empty."),
    )
    profile = models.URLField(_("profile page"), blank=True)
    picture = models.URLField(_("picture"), blank=True)
    website = models.URLField(_("website"), blank=True)
    email_verified = models.BooleanField(_("email verified"), default=False)
    gender = models.CharField(_("gender"), max_length=50, blank=True)
    birthdate = models.DateField(_("birthdate"), null=True, blank=True)
    zoneinfo = models.CharField(_("time zone"), max_length=64, blank=True, help_text=_("e.g. Europe/Paris"))
    locale = models.CharField(_("locale"), max_length=35, blank=True, help_text=_("BCP47 tag, e.g. en-US"))
    phone_number = models.CharField(_("phone number"), max_length=32, blank=True, help_text=_("E.164"))
    phone_number_verified = models.BooleanField(_("phone number verified"), default=False)
    address_formatted = models.TextField(_("address (formatted)"), blank=True)
    address_street_address = models.CharField(_("street address"), max_length=255, blank=True)
    address_locality = models.CharField(_("locality"), max_length=128, blank=True)
    address_region = models.CharField(_("region"), max_length=128, blank=True)
    address_postal_code = models.CharField(_("postal code"), max_length=32, blank=True)
    address_country = models.CharField(_("country"), max_length=128, blank=True)
    updated_at = models.DateTimeField(_("profile updated"), auto_now=True)
    # Attributes beyond the standard claims, keyed by name, as JSON values of their kind
    # (accounts/attributes.py); staff define which exist and where they go (oidc_provider's
    # ClaimDefinition). A value whose definition is gone stays here, released to no app.
    attributes = models.JSONField(_("other attributes"), default=dict, blank=True)
    # Account lifecycle (accounts/lifecycle/services.py). A deletion deactivates the account at once and
    # erases it after the grace period; erasure keeps this row, emptied of personal data, so its
    # subject identifier stays taken for ever (OIDC Core 1.0 §2: sub is never reassigned).
    deletion_requested = models.DateTimeField(_("deletion requested"), null=True, blank=True)
    erase_after = models.DateTimeField(_("to be erased after"), null=True, blank=True, db_index=True)
    erased = models.DateTimeField(_("erased"), null=True, blank=True)

    # The subject as loaded from the database, which save() refuses to change (from_db sets it).
    _loaded_subject: str | None
    # Whether the subject is one drawn for this new account (not given, nor loaded): only such a
    # subject is drawn again when it is taken (save()). Set by __init__ for a new account only.
    _subject_drawn = False

    # django-stubs declares no Meta on Django's abstract models; AbstractUser has one at runtime.
    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"

    def address_parts(self) -> dict[str, str]:
        """Return the postal address as the members of OIDC's address claim (Core 1.0 §5.1.1)."""
        return {
            "formatted": self.address_formatted,
            "street_address": self.address_street_address,
            "locality": self.address_locality,
            "region": self.address_region,
            "postal_code": self.address_postal_code,
            "country": self.address_country,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rows from the database come positionally (Model.from_db) or without __init__ at all
        # (row_object, below); a subject given by name (importusers) is kept, and a taken one
        # fails on the unique constraint rather than being replaced.
        if not args and "subject" not in kwargs:
            self._subject_drawn = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        # Built without Model.__init__'s loop per column (ground/rows.py): UserInfo loads the
        # user for its claims with every request.
        instance = row_object(cls, db, field_names, values)
        instance._loaded_subject = instance.__dict__.get("subject")
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded = getattr(self, "_loaded_subject", None)
        if loaded is not None and loaded != self.subject:
            raise ValidationError(_("The subject identifier of a user cannot change."))
        if self._state.adding and getattr(self, "_subject_drawn", False):
            self._draw_free_subject()
        super().save(*args, **kwargs)

    def _draw_free_subject(self) -> None:
        # A random subject that is taken already (astronomically rare, most likely with the 64 bits
        # of a proquint) is drawn again rather than failing the sign-up on the unique constraint,
        # which still guards two accounts drawing the same one at the same moment.
        taken = type(self)._default_manager.filter
        for _draw in range(SUBJECT_DRAWS):
            if not taken(subject=self.subject).exists():
                return
            self.subject = new_subject()
        raise ValidationError(_("No free subject identifier could be drawn."))


class GroupSettings(models.Model):
    """Account policy for the members of a group."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="settings")
    require_mfa = models.BooleanField(
        _("require multi-factor authentication"),
        default=False,
        help_text=_("Members must sign in with a second factor, and enroll one if they have none."),
    )

    class Meta:
        verbose_name = _("group settings")
        verbose_name_plural = _("group settings")

    def __str__(self) -> str:
        return f"Settings for {self.group}"


class LoginFailure(models.Model):
    """Recent failed logins for one account or client IP, and its lockout if any."""

    class Scope(models.TextChoices):
        PASSWORD = "password", _("account: password")
        SECOND_FACTOR = "second_factor", _("account: second factor")
        CLIENT_IP = "ip", _("client IP")
        # Password reset requests (every request counts, not only failures).
        RESET_ACCOUNT = "reset_account", _("password reset: e-mail")
        RESET_IP = "reset_ip", _("password reset: client IP")
        # Sign-ups (every one counts, like password reset requests).
        SIGNUP_ADDRESS = "signup_address", _("sign-up: e-mail")
        SIGNUP_IP = "signup_ip", _("sign-up: client IP")

    scope = models.CharField(_("counted per"), max_length=16, choices=Scope.choices)
    # The normalized username or e-mail (existing or not), or the client IP (an IPv6 client's /64).
    key = models.CharField(_("account or IP"), max_length=255)
    failures = models.PositiveIntegerField(_("failures in window"), default=0)
    window_started = models.DateTimeField(_("window started"))
    last_failure = models.DateTimeField(_("last failure"))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # Lockouts in a row: each one lasts twice as long as the one before.
    lockouts = models.PositiveIntegerField(_("lockouts"), default=0)
    # After this the record says nothing any more; `clearlockouts` deletes it.
    expires = models.DateTimeField(_("forgotten after"), db_index=True)

    class Meta:
        ordering = ["-last_failure"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="accounts_loginfailure_scope_key")
        ]
        verbose_name = _("failed login record")
        verbose_name_plural = _("failed logins and lockouts")

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.key}"


class LoginSession(models.Model):
    """One sign-in: the ``sid`` relying parties see in ID tokens, and how long it lives.

    Session-bound refresh tokens live no longer than their session: signing out, an admin
    ending it, a password change or its expiry ends it (OIDC Core 1.0 §11, RFC 9700 §4.14).
    """

    class EndReason(models.TextChoices):
        LOGOUT = "logout", _("signed out")
        PASSWORD_CHANGED = "password_changed", _("password changed")
        ENDED_BY_USER = "ended_by_user", _("ended by the user")
        ENDED_BY_STAFF = "ended_by_staff", _("ended by staff")
        SUPERSEDED = "superseded", _("replaced by a new sign-in")
        EXPIRED = "expired", _("expired")
        DEACTIVATED = "deactivated", _("account deactivated")

    sid = models.CharField(_("session id"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions"
    )
    created = models.DateTimeField(_("signed in"), default=timezone.now)
    expires = models.DateTimeField(_("expires"), db_index=True)
    ended = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=32, choices=EndReason.choices, blank=True)
    amr = models.JSONField(_("authentication methods"), default=list, blank=True)
    ip = models.CharField(_("IP address"), max_length=64, blank=True)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    # The browser's Django session, deleted when the session is ended elsewhere (account page,
    # admin) so that browser is really signed out. Never shown: it is a bearer credential.
    session_key = models.CharField(max_length=64, blank=True, editable=False)

    # Not stored: set where sessions are listed (the account page, the user admin) from
    # ``user_agent`` and the viewer's own sid.
    device: str
    is_current: bool

    class Meta:
        ordering = ["-created"]
        verbose_name = _("sign-in session")
        verbose_name_plural = _("sign-in sessions")

    def __str__(self) -> str:
        return f"{self.user} since {self.created:%Y-%m-%d %H:%M}"

    def is_active(self) -> bool:
        return self.ended is None and self.expires > timezone.now()


class Invitation(models.Model):
    """A single-use, expiring link that lets an invited person choose their password.

    Staff invite instead of typing a password for someone: the user is made without a usable
    password, and only the SHA-256 of the link's token is stored. Using the link sets the
    password and marks the e-mail address verified (the link went to it).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Following the link shows only that its reader gets mail at this address, so it works only
    # while the account still has it: after staff change the address it would vouch for the new one.
    email = models.EmailField(_("sent to"), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("invited"), default=timezone.now)
    sent = models.DateTimeField(_("last sent"), default=timezone.now)
    expires = models.DateTimeField(_("link expires"))
    accepted = models.DateTimeField(_("accepted"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"Invitation for {self.user.email or self.user.get_username()}"

    def is_pending(self) -> bool:
        return self.accepted is None and self.expires > timezone.now()

    def reaches_user(self) -> bool:
        """Return whether the link went to the address the account has now."""
        return bool(self.email) and self.email == self.user.email


class DataExport(models.Model):
    """A copy of everything Porchlight holds about a user, for them to download once (GDPR Art. 15, 20).

    The background task fills ``payload_encrypted`` (encrypted with the key-encryption key); the download
    link carries a token of which only the SHA-256 is stored, and works once, briefly.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("being prepared")
        READY = "ready", _("ready to download")
        DOWNLOADED = "downloaded", _("downloaded")
        EXPIRED = "expired", _("expired")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    requested = models.DateTimeField(_("requested"), default=timezone.now)
    ready = models.DateTimeField(_("ready"), null=True, blank=True)
    expires = models.DateTimeField(_("link expires"), null=True, blank=True, db_index=True)
    downloaded = models.DateTimeField(_("downloaded"), null=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    payload_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-requested"]
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")

    def __str__(self) -> str:
        return f"Data export for {self.user} ({self.get_status_display()})"
