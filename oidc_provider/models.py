"""Porchlight's swapped DOT models and its signing keys.

Every DOT model is swapped from the first migration (swapping later is costly): the client
carries several grant types and its ID token algorithm; grants and tokens carry the
authentication context (auth_time, amr, acr) and the login session they came from, so the
context survives the code exchange and every refresh (docs/design.md, "Authentication context").
"""

from collections.abc import Collection
from typing import Any, TypeAlias

from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractDeviceGrant,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
    ApplicationManager,
)

from ground.outbound import uri_refusal
from ground.rates import Rate, parse_rate

from .hashers import client_secret_problem
from .keys_at_rest import encrypt_secret
from .names import name_keys, name_look_alike, name_reorders
from .redirect_uris import redirect_uri_problem


class Algorithm(models.TextChoices):
    RS256 = "RS256", "RS256 (RSA PKCS#1 v1.5, SHA-256)"
    PS256 = "PS256", "PS256 (RSA-PSS, SHA-256)"
    ES256 = "ES256", "ES256 (ECDSA P-256, SHA-256)"
    EDDSA = "EdDSA", "EdDSA (Ed25519)"
    # OIDC Core 1.0 §10.1: the HMAC key is the client secret, so confidential clients only.
    HS256 = "HS256", "HS256 (HMAC with the client secret; confidential clients only)"


# Algorithms signed with a managed asymmetric key (``SigningKey``); HS256 uses the client secret.
KEY_ALGORITHMS = [Algorithm.RS256, Algorithm.PS256, Algorithm.ES256, Algorithm.EDDSA]


class GrantType(models.TextChoices):
    AUTHORIZATION_CODE = "authorization_code", "Authorization code"
    REFRESH_TOKEN = "refresh_token", "Refresh token"
    CLIENT_CREDENTIALS = "client_credentials", "Client credentials"
    # RFC 8628 §3.4: the device authorization grant.
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code", "Device code"


DOT_GRANT_NAMES = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: GrantType.AUTHORIZATION_CODE,
    AbstractApplication.GRANT_OPENID_HYBRID: GrantType.AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: GrantType.CLIENT_CREDENTIALS,
}


# What Model.clean() gathers before raising one ValidationError: messages (or errors) per field.
ValidationErrors: TypeAlias = dict[str, list[StrOrPromise | ValidationError]]


def validate_rate_limit(value: str) -> None:
    """Refuse a client rate limit that is neither blank, ``unlimited`` nor REQUESTS/SECONDS."""
    if value:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


def default_grant_types() -> list[str]:
    return [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN]


class Client(AbstractApplication):
    # DOT's ``algorithm`` is the ID token signing algorithm (OIDC Registration
    # id_token_signed_response_alg). Always set, so a client made anywhere can get ID tokens.
    algorithm = models.CharField(
        _("ID token signing algorithm"), max_length=5, choices=Algorithm.choices, default=Algorithm.RS256
    )
    grant_types = models.JSONField(
        _("grant types"),
        default=default_grant_types,
        help_text=_("authorization_code, refresh_token, client_credentials and/or the device code grant"),
    )

    class AccessTokenFormat(models.TextChoices):
        JWT = "jwt", _("JWT (RFC 9068): resource servers can validate it locally against JWKS")
        OPAQUE = "opaque", _("Opaque: resource servers must introspect it")

    access_token_format = models.CharField(
        _("access token format"),
        max_length=6,
        choices=AccessTokenFormat.choices,
        default=AccessTokenFormat.JWT,
    )
    # RFC 9068 §2.1: every resource server must accept RS256, so it is the default; an app whose
    # resource servers all accept another algorithm may choose it (ES256 and EdDSA tokens are
    # smaller and a tenth of RS256's signing cost, README "Performance").
    access_token_algorithm = models.CharField(
        _("access token signing algorithm"),
        max_length=5,
        choices=[(alg.value, alg.label) for alg in KEY_ALGORITHMS],
        default=Algorithm.RS256,
    )
    require_mfa = models.BooleanField(
        _("require multi-factor authentication"),
        default=False,
        help_text=_(
            "Users must complete a second factor (and enroll one if they have none) to sign in here."
        ),
    )
    require_pkce = models.BooleanField(
        _("require PKCE"),
        default=True,
        help_text=_(
            "Public clients always use PKCE. Turn this off only for a confidential client that "
            "cannot send it; it must then send a nonce with every OpenID request (RFC 9700 §2.1.1)."
        ),
    )
    may_introspect = models.BooleanField(
        _("may introspect other clients' tokens"),
        default=False,
        help_text=_("For resource servers: allow RFC 7662 introspection of tokens issued to any client."),
    )
    release_groups = models.BooleanField(
        _("may receive group names"),
        default=False,
        help_text=_(
            "Let this app ask for the groups scope: its tokens then say which groups the person is in."
        ),
    )
    # OIDC Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2: where this app hears
    # that a sign-in session it took part in has ended.
    backchannel_logout_uri = models.CharField(
        _("back-channel logout URI"),
        max_length=2000,
        blank=True,
        help_text=_("Porchlight POSTs a signed logout token here when a session this app used ends."),
    )
    backchannel_logout_session_required = models.BooleanField(
        _("back-channel logout needs sid"), default=False
    )
    frontchannel_logout_uri = models.CharField(
        _("front-channel logout URI"),
        max_length=2000,
        blank=True,
        help_text=_("Loaded in a hidden frame on the signed-out page of a session this app used."),
    )
    frontchannel_logout_session_required = models.BooleanField(
        _("front-channel logout needs iss and sid"), default=False
    )
    # oidc_provider/rate_limits.py: requests per window at the token, introspection, revocation,
    # UserInfo and device authorization endpoints together. Blank: PORCHLIGHT_CLIENT_RATE_LIMIT.
    rate_limit = models.CharField(
        _("rate limit"),
        max_length=20,
        blank=True,
        default="",
        validators=[validate_rate_limit],
        help_text=_(
            "Requests per window this app may make to the token, introspection, revocation, UserInfo "
            "and device endpoints, as REQUESTS/SECONDS (e.g. 600/60), or “unlimited” for a "
            "trusted back end. Blank: the provider's default."
        ),
    )
    # HS256 only: the secret, Fernet-encrypted with the key-encryption key (keys_at_rest.py), because the
    # provider must sign with it (OIDC Core 1.0 §10.1). Empty for every other algorithm.
    client_secret_encrypted = models.TextField(editable=False, blank=True, default="")

    objects = ApplicationManager()

    # Not stored: a secret the admin just generated, for the one response that shows it.
    new_secret: str | None = None

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

    @property
    def pkce_required(self) -> bool:
        """Return whether this client's codes need PKCE (RFC 9700 §2.1.1: always when public)."""
        return self.client_type == self.CLIENT_PUBLIC or self.require_pkce

    @property
    def request_rate(self) -> Rate | None:
        """Return the rate this client's requests are limited to; None: unlimited."""
        if not self.rate_limit:
            return settings.PORCHLIGHT["CLIENT_RATE_LIMIT"]
        return parse_rate(self.rate_limit)

    @property
    def registered_itself(self) -> bool:
        """Return whether the app registered itself (RFC 7591), so staff have not reviewed it.

        DOT's ``registration_source`` is "manual" for apps staff made (admin, ``createclient``,
        ``client_create``, fixtures).
        """
        return self.registration_source != self.RegistrationSource.MANUAL

    def allows_grant_type(self, *grant_types: str) -> bool:
        # DOT asks with its own constants ("authorization-code", "openid-hybrid", ...).
        wanted = {DOT_GRANT_NAMES.get(grant_type, grant_type) for grant_type in grant_types}
        return bool(wanted.intersection(self.grant_types or []))

    def redirect_uri_allowed(self, uri: str) -> bool:
        # RFC 8252 §7.3: a native (public) client on a loopback IP may pick any port at request
        # time; every other client's URI must match exactly (RFC 9700 §2.1, OIDC Core 1.0
        # §3.1.2.1), or any program listening on the host could receive a confidential client's code.
        allowed = super().redirect_uri_allowed(uri)
        return allowed and (self.client_type == self.CLIENT_PUBLIC or uri in self.redirect_uris.split())

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        allowed = super().post_logout_redirect_uri_allowed(uri)
        return allowed and (
            self.client_type == self.CLIENT_PUBLIC or uri in self.post_logout_redirect_uris.split()
        )

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        self.authorization_grant_type = self.primary_grant_type()
        super().clean_fields(exclude)

    def clean(self) -> None:
        errors: ValidationErrors = {}
        unknown = set(self.grant_types or []) - set(GrantType.values)
        if unknown or not self.grant_types:
            errors["grant_types"] = [_("Choose one or more of: %s") % ", ".join(GrantType.values)]
        self._clean_name(errors)
        self._clean_uris(errors)
        if self.client_type == self.CLIENT_PUBLIC:
            # RFC 9700 §2.1.1: a client without a secret always proves the code is its own with PKCE.
            self.require_pkce = True
            if GrantType.CLIENT_CREDENTIALS in (self.grant_types or []):
                # RFC 6749 §4.4: the grant authenticates the client, which a public client cannot.
                errors.setdefault("grant_types", []).append(
                    _("An app that cannot keep a secret cannot use client credentials (RFC 6749 §4.4).")
                )
        problem = client_secret_problem(self.client_secret)
        if problem and self.client_type == self.CLIENT_CONFIDENTIAL:
            errors["client_secret"] = [problem]
        if self.algorithm == Algorithm.HS256 and self.client_type != self.CLIENT_CONFIDENTIAL:
            # OIDC Core 1.0 §10.1: a public client has no secret to be the HMAC key.
            errors["algorithm"] = [
                _("HS256 signs with the client secret: only confidential clients may use it.")
            ]
        try:
            super().clean()
        except ValidationError as error:
            # DOT's algorithm check wants a settings key; ours are managed rows (keys.py). For
            # HS256 DOT wants the secret stored unhashed; we keep a hash and an encrypted copy.
            ignored = {"algorithm"}
            if self.algorithm == Algorithm.HS256:
                ignored |= {"hash_client_secret", "client_secret"}
            # Our URI rule (redirect_uris.py) is stricter than DOT's; one message per problem.
            ignored |= {field for field in ("redirect_uris", "post_logout_redirect_uris") if field in errors}
            for field, messages in error.error_dict.items():
                if field not in ignored:
                    errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def _clean_name(self, errors: ValidationErrors) -> None:
        # People choose what to allow by this name on the consent page, so no app may pass for
        # one staff registered; names are compared as people see them (names.py).
        self.name = (self.name or "").strip()
        if not name_keys(self.name):
            errors["name"] = [_("Give the app a name: people see it when they sign in.")]
            return
        if name_reorders(self.name):
            errors["name"] = [
                _("Leave out direction controls (U+202A–U+202E, U+2066–U+2069): they reorder the name.")
            ]
            return
        others = Client.objects.exclude(pk=self.pk)
        if self.registered_itself:
            # RFC 7591 §2 gives client_name no uniqueness: installations of one app share its name.
            others = others.filter(registration_source=self.RegistrationSource.MANUAL)
        taken = name_look_alike(self.name, others.values_list("name", flat=True).iterator())
        if taken is None:
            return
        if self.registered_itself:
            errors["name"] = [
                _(
                    "“%s” looks like the name of an app your organisation's staff registered "
                    "(ignoring case, spacing, invisible characters and look-alike letters); an app "
                    "that registers itself must choose another name."
                )
                % self.name
            ]
        elif taken == self.name:
            errors["name"] = [_("Another app is already called “%s”.") % taken]
        else:
            errors["name"] = [
                _("Another app is already called “%(taken)s”, which people could not tell from “%(name)s”.")
                % {"taken": taken, "name": self.name}
            ]

    def _clean_uris(self, errors: ValidationErrors) -> None:
        # Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2: absolute, no fragment;
        # the same rule as redirect URIs (https except loopback).
        uri_fields = (
            "redirect_uris",
            "post_logout_redirect_uris",
            "backchannel_logout_uri",
            "frontchannel_logout_uri",
        )
        for field in uri_fields:
            problems: list[StrOrPromise | ValidationError] = [
                problem for uri in getattr(self, field).split() if (problem := redirect_uri_problem(uri))
            ]
            if problems:
                errors[field] = problems
        # The server itself POSTs to the back-channel URI (the browser loads the front-channel
        # one), so it must lead to a public address; refused with invalid_client_metadata at
        # registration (RFC 7591 §3.2.2). A name that does not resolve yet is checked at each POST.
        backchannel = self.backchannel_logout_uri.strip()
        if backchannel and "backchannel_logout_uri" not in errors and (refusal := uri_refusal(backchannel)):
            errors["backchannel_logout_uri"] = [f"{refusal}."]
        if GrantType.AUTHORIZATION_CODE in (self.grant_types or []) and not self.redirect_uris.split():
            errors.setdefault("redirect_uris", []).append(
                _("An app that signs people in needs at least one redirect URI.")
            )

    def primary_grant_type(self) -> str:
        """Return the value DOT's single ``authorization_grant_type`` field should hold."""
        if GrantType.AUTHORIZATION_CODE in (self.grant_types or []):
            return AbstractApplication.GRANT_AUTHORIZATION_CODE
        return AbstractApplication.GRANT_CLIENT_CREDENTIALS

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.authorization_grant_type = self.primary_grant_type()
        # A secret is only ever stored hashed (DOT hashes in pre_save, if asked to). No secret
        # is stored as "", not as a hash of "", which would verify an empty secret if a public
        # client were later made confidential.
        self.hash_client_secret = bool(self.client_secret)
        self._keep_secret_for_hs256()
        super().save(*args, **kwargs)

    def _keep_secret_for_hs256(self) -> None:
        """Encrypt a newly set secret for an HS256 client; drop the copy for any other algorithm."""
        if self.algorithm != Algorithm.HS256 or not self.client_secret:
            self.client_secret_encrypted = ""
        elif not _looks_hashed(self.client_secret):
            # Still cleartext: DOT hashes it in pre_save, after which it cannot be recovered.
            self.client_secret_encrypted = encrypt_secret(self.client_secret)


def _looks_hashed(secret: str) -> bool:
    try:
        identify_hasher(secret)
    except ValueError:
        return False
    return True


class AuthContextFields(models.Model):
    """How the user authenticated, copied from the session to the grant and each token."""

    auth_time = models.DateTimeField(_("authenticated at"), null=True, blank=True)
    amr = models.JSONField(_("authentication methods"), default=list, blank=True)
    acr = models.CharField(_("authentication context class"), max_length=64, blank=True)
    session_id = models.CharField(_("login session"), max_length=64, blank=True, db_index=True)

    class Meta:
        abstract = True


class Grant(AuthContextFields, AbstractGrant):
    # ``code`` holds the SHA-256 of the authorization code, never the code (codes.py).
    # A redeemed code is kept, marked used, until it expires, so a replay is recognised and
    # revokes what the first redemption issued (RFC 6749 §4.1.2, RFC 9700 §4.2.4).
    used_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    token_family = models.UUIDField(_("token family"), null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AuthContextFields, AbstractAccessToken):
    # The tokens issued from one code (or device code) and every refresh after it, so a replayed
    # code or refresh token revokes them together.
    token_family = models.UUIDField(_("token family"), null=True, blank=True, db_index=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"


class RefreshToken(AuthContextFields, AbstractRefreshToken):
    # OIDC Core 1.0 §11: an offline token (offline_access granted) outlives the sign-in session;
    # any other refresh token is bound to ``session_id`` and dies with that session.
    offline = models.BooleanField(_("offline access"), default=False)
    # Once rotated: the response that carried its successor, encrypted with the key-encryption
    # key, sent again to a client that retries within PORCHLIGHT_REFRESH_REUSE_GRACE (refresh.py).
    retry_response_encrypted = models.TextField(editable=False, blank=True, default="")

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    session_id = models.CharField(_("login session"), max_length=64, blank=True, db_index=True)

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
        verbose_name = _("ID token")


class DeviceGrant(AuthContextFields, AbstractDeviceGrant):
    # RFC 8628: ``device_code`` holds the SHA-256 of the device code; ``user_code`` its
    # normalised form (upper case, no dash). The user's approval copies the session's
    # authentication context here, and the one successful poll marks the grant redeemed.
    created = models.DateTimeField(_("created"), default=timezone.now)
    polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)

    class Meta(AbstractDeviceGrant.Meta):
        swappable = "OAUTH2_PROVIDER_DEVICE_GRANT_MODEL"


class SessionClient(models.Model):
    """A client that received tokens in a sign-in session: it is told when the session ends."""

    session = models.ForeignKey(
        "accounts.LoginSession", on_delete=models.CASCADE, related_name="client_links"
    )
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="session_links"
    )
    first_seen = models.DateTimeField(_("first tokens"), default=timezone.now)

    class Meta:
        ordering = ["first_seen"]
        constraints = [
            models.UniqueConstraint(fields=["session", "client"], name="oidc_provider_sessionclient_unique")
        ]
        verbose_name = _("app in a sign-in session")

    def __str__(self) -> str:
        return f"{self.client} in {self.session}"


class LogoutDelivery(models.Model):
    """One back-channel logout token owed to one client (OIDC Back-Channel Logout 1.0 §2.5).

    Made in the transaction that ends the session; the task worker POSTs it, retrying with
    backoff until it is delivered or has failed for good. A delivered row is never sent again.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="logout_deliveries"
    )
    sid = models.CharField(_("session id"), max_length=64, blank=True)
    subject = models.CharField(_("subject"), max_length=64, blank=True)
    uri = models.CharField(_("back-channel logout URI"), max_length=2000)
    reason = models.CharField(_("why the session ended"), max_length=32, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created = models.DateTimeField(_("queued"), default=timezone.now)
    next_attempt = models.DateTimeField(_("next attempt"), null=True, blank=True)
    finished = models.DateTimeField(_("delivered or given up"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("logout delivery")
        verbose_name_plural = _("logout deliveries")

    def __str__(self) -> str:
        return f"Logout to {self.client} ({self.get_state_display()})"


class SigningKey(models.Model):
    """A JOSE signing key with a lifecycle: next -> active -> retired (docs/design.md, "Keys")."""

    class State(models.TextChoices):
        NEXT = "next", _("next (published, not yet signing)")
        ACTIVE = "active", _("active (signing)")
        RETIRED = "retired", _("retired (published until its tokens expire)")

    algorithm = models.CharField(
        _("algorithm"), max_length=5, choices=[(alg.value, alg.label) for alg in KEY_ALGORITHMS]
    )
    # RFC 7638 JWK thumbprint (SHA-256) of the public key.
    kid = models.CharField(_("key id"), max_length=64, unique=True)
    state = models.CharField(_("state"), max_length=7, choices=State.choices, default=State.NEXT)
    public_jwk = models.JSONField(_("public key (JWK)"))
    # The private JWK, encrypted with the key-encryption key (oidc_provider/keys_at_rest.py).
    private_jwk_encrypted = models.TextField(_("private key (encrypted)"), editable=False)
    created = models.DateTimeField(_("created"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["algorithm", "-created"]
        verbose_name = _("signing key")
        constraints = [
            models.UniqueConstraint(
                fields=["algorithm"],
                condition=models.Q(state="active"),
                name="one_active_key_per_algorithm",
            )
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid[:12]} ({self.state})"


class Consent(models.Model):
    """What a user has allowed a client to access; the consent page is skipped while it covers a request."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scopes = models.JSONField(_("granted scopes"), default=list)
    created = models.DateTimeField(_("first granted"), auto_now_add=True)
    updated = models.DateTimeField(_("last granted"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="one_consent_per_user_client")]
        verbose_name = _("consent")

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"


class RegistrationToken(models.Model):
    """An initial access token that lets a client register itself (RFC 7591 §3).

    Only the SHA-256 of the token is stored; staff see the token once, when it is created.
    """

    label = models.CharField(_("label"), max_length=100, help_text=_("Who or what the token is for."))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires = models.DateTimeField(_("expires"))
    max_uses = models.PositiveIntegerField(
        _("maximum uses"), null=True, blank=True, help_text=_("Leave blank for no limit until it expires.")
    )
    uses = models.PositiveIntegerField(_("uses"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    # Not stored: the token's value, for the one admin response that shows it.
    new_value: str | None = None

    class Meta:
        ordering = ["-created"]
        verbose_name = _("registration token")

    def __str__(self) -> str:
        return self.label

    def is_usable(self) -> bool:
        if self.expires <= timezone.now():
            return False
        return self.max_uses is None or self.uses < self.max_uses


class ClientRequestCount(models.Model):
    """Requests counted against one budget in its current window (oidc_provider/rate_limits.py).

    One row per budget: a client's (``c:`` and its pk) or, for requests whose client did not
    authenticate, a client id and address's (``a:`` and a digest). Updated by one atomic upsert per
    request; rows whose window has ended are pruned by housekeeping.
    """

    key = models.CharField(max_length=80, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    # When the window ends, in epoch milliseconds: compared in SQL on every request.
    expires = models.BigIntegerField(db_index=True)

    class Meta:
        verbose_name = _("client request count")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
