"""Upstream identity providers people may sign in with, and the identities linked to accounts."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The profile fields a claim may fill (OIDC Core 1.0 §5.1 names on the left are only a default):
# never the username, the e-mail address (set from the verified address only) or staff flags.
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "zoneinfo",
    "locale",
    "phone_number",
)


def default_claim_map() -> dict[str, str]:
    return {"given_name": "first_name", "family_name": "last_name"}


class UpstreamProvider(models.Model):
    """Another identity provider whose sign-in Porchlight accepts ("Sign in with …")."""

    class Kind(models.TextChoices):
        OIDC = "oidc", _("OpenID Connect (discovery URL)")
        GITHUB = "github", _("GitHub (OAuth 2.0)")

    class Icon(models.TextChoices):
        NONE = "", _("none")
        OPENID = "openid", _("OpenID")
        GOOGLE = "google", _("Google")
        MICROSOFT = "microsoft", _("Microsoft")
        GITHUB = "github", _("GitHub")

    slug = models.SlugField(
        _("short name"),
        unique=True,
        help_text=_(
            "In this provider's addresses here: /upstream/[short name]/callback/ is its redirect URI."
        ),
    )
    label = models.CharField(
        _("button label"), max_length=80, help_text=_("Shown on the sign-in page: “Sign in with …”.")
    )
    icon = models.CharField(_("button icon"), max_length=16, choices=Icon.choices, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OIDC)
    discovery_url = models.URLField(
        _("discovery URL"),
        blank=True,
        help_text=_(
            "OpenID Connect only: the provider's /.well-known/openid-configuration address "
            "(OIDC Discovery 1.0 §4)."
        ),
    )
    # The API GitHub's kind calls; a test points it at a local stand-in.
    api_base_url = models.URLField(
        _("API base URL"), blank=True, help_text=_("GitHub only; empty means https://api.github.com.")
    )
    web_base_url = models.URLField(
        _("web base URL"), blank=True, help_text=_("GitHub only; empty means https://github.com.")
    )
    client_id = models.CharField(_("client ID"), max_length=255)
    # Fernet token under the key-encryption key (accounts/encryption.py); never shown back.
    client_secret_encrypted = models.TextField(editable=False, blank=True)
    scopes = models.CharField(
        _("scopes"),
        max_length=255,
        default="openid email profile",
        help_text=_("Space-separated. GitHub: “read:user user:email”."),
    )
    claim_map = models.JSONField(
        _("claims → profile fields"),
        default=default_claim_map,
        blank=True,
        help_text=_("A JSON object: upstream claim name → profile field, copied at each sign-in."),
    )
    group_claim = models.CharField(
        _("group claim"),
        max_length=80,
        blank=True,
        default="groups",
        help_text=_("The claim listing groups."),
    )
    group_map = models.JSONField(
        _("upstream groups → groups"),
        default=dict,
        blank=True,
        help_text=_(
            "A JSON object: a value of the group claim → the name of a group here. At each sign-in the "
            "person joins the mapped groups the claim lists and leaves the mapped groups it does not."
        ),
    )
    may_create_accounts = models.BooleanField(
        _("may create accounts"),
        default=False,
        help_text=_("A sign-in whose verified address matches no account makes one."),
    )
    allowed_domains = models.TextField(
        _("e-mail domains for new accounts"),
        blank=True,
        help_text=_("One per line (example.com). Empty: any domain, when creating accounts is allowed."),
    )
    trust_mfa = models.BooleanField(
        _("trust its second factor"),
        default=False,
        help_text=_(
            "When the provider's ID token says that a second factor was used (its amr contains “mfa”, "
            "or its acr is one of the values below), Porchlight does not ask for its own."
        ),
    )
    mfa_acr_values = models.CharField(
        _("acr values that mean a second factor"),
        max_length=255,
        blank=True,
        help_text=_(
            "Space-separated, as this provider writes them in its ID tokens' acr; used when trusted."
        ),
    )
    enabled = models.BooleanField(_("shown on the sign-in page"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "label"]
        verbose_name = _("upstream identity provider")
        verbose_name_plural = _("upstream identity providers")

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.kind == self.Kind.OIDC and not self.discovery_url:
            raise ValidationError({"discovery_url": _("An OpenID Connect provider needs its discovery URL.")})
        if self.kind == self.Kind.OIDC and "openid" not in self.scopes.split():
            # OIDC Core 1.0 §3.1.2.1: without it the request is plain OAuth, with no ID token.
            raise ValidationError({"scopes": _("An OpenID Connect provider is asked for the openid scope.")})
        if not isinstance(self.claim_map, dict) or not all(
            isinstance(key, str) and value in PROFILE_FIELDS for key, value in self.claim_map.items()
        ):
            raise ValidationError(
                {"claim_map": _("Map claim names to these fields: %s.") % ", ".join(PROFILE_FIELDS)}
            )
        if not isinstance(self.group_map, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in self.group_map.items()
        ):
            raise ValidationError({"group_map": _("Map group claim values to group names (text).")})

    def domains(self) -> set[str]:
        return {line.strip().lower().lstrip("@") for line in self.allowed_domains.split() if line.strip()}


class LinkedIdentity(models.Model):
    """An account's identity at an upstream provider: signing in there signs in here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="linked_identities"
    )
    provider = models.ForeignKey(UpstreamProvider, on_delete=models.CASCADE, related_name="identities")
    # The upstream's "sub" (OIDC Core 1.0 §2: unique and never reassigned within its issuer), or
    # GitHub's numeric user id (a login name can be renamed and reused).
    subject = models.CharField(_("upstream subject"), max_length=255)
    email = models.EmailField(_("e-mail address there"), blank=True)
    linked_at = models.DateTimeField(_("linked"), default=timezone.now)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["provider__order", "linked_at"]
        verbose_name = _("linked identity")
        verbose_name_plural = _("linked identities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="upstream_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.email or self.subject}"


class UpstreamSession(models.Model):
    """Which Porchlight sign-in an upstream sign-in began, so the upstream's logout can end it.

    OIDC Back-Channel Logout 1.0 §2.4: the upstream names its session by ``sid`` and/or the user
    by ``sub``.
    """

    provider = models.ForeignKey(UpstreamProvider, on_delete=models.CASCADE, related_name="sessions")
    login_session = models.OneToOneField(
        "accounts.LoginSession", on_delete=models.CASCADE, related_name="upstream_session"
    )
    upstream_sid = models.CharField(max_length=255, blank=True, db_index=True)
    upstream_subject = models.CharField(max_length=255, db_index=True)

    class Meta:
        verbose_name = _("sign-in through an upstream provider")
        verbose_name_plural = _("sign-ins through an upstream provider")
