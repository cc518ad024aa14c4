"""Porchlight's swapped DOT models and its signing keys.

Every DOT model is swapped from the first migration (swapping later is costly): the client
carries several grant types and its ID token algorithm; grants and tokens carry the
authentication context (auth_time, amr, acr) and the login session they came from, so the
context survives the code exchange and every refresh (docs/design.md, "Authentication context").
"""

import re
from collections.abc import Collection
from typing import Any, Self, TypeAlias

from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.models import Group
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
from oauth2_provider.settings import oauth2_settings

from accounts.attributes import Kind
from ground.outbound import uri_refusal
from ground.rates import Rate, parse_rate
from ground.rows import row_object

from .hashers import client_secret_problem
from .jwk_sets import HMAC_ALGORITHMS, SIGNING_ALGORITHMS, JwkSetError, jwk_set_parse
from .keys_at_rest import encrypt_secret
from .names import name_keys, name_look_alike, name_reorders
from .redirect_uris import origin_problem, private_use_scheme, redirect_uri_problem
from .sectors import PAIRWISE, PUBLIC, sector_of, sector_problems
from .standard_claims import SCOPE_CLAIMS, SCOPE_DESCRIPTIONS


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
    # RFC 8693 §2.1: token exchange (an API calling another API on the user's behalf).
    TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange", "Token exchange"


class ResponseType(models.TextChoices):
    """The authorization endpoint's response types (OIDC Core 1.0 §3; Multiple Response Types §3).

    ``code`` is the default and the one every app should use. The others send tokens through
    the browser (the front channel), which RFC 9700 §2.1.2 discourages; an app gets them only
    when staff (or its registration) turned them on for it.
    """

    CODE = "code", _("code (authorization code flow)")
    ID_TOKEN = "id_token", _("id_token (implicit: an ID token only)")
    ID_TOKEN_TOKEN = "id_token token", _("id_token token (implicit: ID token and access token)")
    CODE_ID_TOKEN = "code id_token", _("code id_token (hybrid)")
    CODE_TOKEN = "code token", _("code token (hybrid)")
    CODE_ID_TOKEN_TOKEN = "code id_token token", _("code id_token token (hybrid)")


def default_response_types() -> list[str]:
    return [ResponseType.CODE]


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

    # OIDC Registration 1.0 §2 response_types. Anything beyond "code" puts tokens in the front
    # channel (oidc_provider/response_types.py); off unless turned on for this client.
    response_types = models.JSONField(
        _("response types"),
        default=default_response_types,
        blank=True,
        help_text=_("code, and any implicit or hybrid response types this app may use"),
    )

    class AccessTokenFormat(models.TextChoices):
        # RFC 9068 JWT access tokens, or opaque ones the API introspects (RFC 7662); docs/clients.md.
        JWT = "jwt", _("Self-contained (JWT): APIs check it themselves, without asking Porchlight")
        OPAQUE = "opaque", _("Opaque: APIs must ask Porchlight what it means (introspection)")

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
    # The API scopes this client may ask for, at authorization and with client_credentials
    # (docs/apis.md). Refused with invalid_scope otherwise (RFC 6749 §4.1.2.1, §5.2).
    allowed_scopes: "models.ManyToManyField[ApiScope, Any]" = models.ManyToManyField(
        "ApiScope",
        blank=True,
        related_name="clients",
        verbose_name=_("allowed API scopes"),
        help_text=_("The API scopes this app may ask for."),
    )
    # RFC 8693: the APIs whose access tokens this client may exchange for tokens to another API
    # (token_exchange.py). None: no token exchange (unauthorized_client, RFC 6749 §5.2).
    token_exchange_apis: "models.ManyToManyField[Api, Any]" = models.ManyToManyField(
        "Api",
        blank=True,
        related_name="exchanging_clients",
        verbose_name=_("may exchange tokens of these APIs"),
        help_text=_(
            "For an API's own client: it may exchange an access token it received for these APIs "
            "for a token to another API, on the same person's behalf (RFC 8693)."
        ),
    )

    class SubjectType(models.TextChoices):
        # OIDC Core 1.0 §8: the same sub for every app, or one per sector (oidc_provider/subjects.py).
        PUBLIC = PUBLIC, _("Public: every app sees the same identifier for a person")
        PAIRWISE = PAIRWISE, _("Pairwise: each sector sees its own identifier, so apps cannot link people")

    subject_type = models.CharField(
        _("subject type"), max_length=8, choices=SubjectType.choices, default=SubjectType.PUBLIC
    )
    # OIDC Registration 1.0 §2, §5: an https URL of a JSON array listing the client's redirect URIs;
    # its host is the pairwise sector (oidc_provider/sectors.py).
    sector_identifier_uri = models.CharField(
        _("sector identifier URI"),
        max_length=2000,
        blank=True,
        help_text=_(
            "For pairwise apps on several hosts: an https URL of a JSON array listing every redirect "
            "URI of the apps that share the sector (its host)."
        ),
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
    # OIDC Registration 1.0 §2 userinfo_signed_response_alg; blank: UserInfo answers plain JSON
    # (OIDC Core 1.0 §5.3.2). HS256 signs with the client secret, like ID tokens (client_settings.py).
    userinfo_signed_response_alg = models.CharField(
        _("UserInfo signing algorithm"),
        max_length=5,
        choices=Algorithm.choices,
        blank=True,
        default="",
        help_text=_("Blank: UserInfo answers plain JSON. Otherwise a JWT signed with this algorithm."),
    )
    # HS256 only: the secret, Fernet-encrypted with the key-encryption key (keys_at_rest.py), because the
    # provider must sign with it (OIDC Core 1.0 §10.1). Empty for every other algorithm.
    client_secret_encrypted = models.TextField(editable=False, blank=True, default="")

    # OIDC Core 1.0 §9, OIDC Registration 1.0 §2: how a confidential client authenticates at the
    # token, introspection, revocation and device endpoints (client_auth.py). A public client
    # uses none, whatever this says.
    class AuthMethod(models.TextChoices):
        CLIENT_SECRET_BASIC = "client_secret_basic", _("Client secret (HTTP Basic or in the request body)")
        CLIENT_SECRET_POST = "client_secret_post", _("Client secret in the request body (or HTTP Basic)")
        CLIENT_SECRET_JWT = "client_secret_jwt", _("JWT signed with the client secret (HS256)")
        PRIVATE_KEY_JWT = "private_key_jwt", _("JWT signed with the app's own private key")

    token_endpoint_auth_method = models.CharField(
        _("client authentication method"),
        max_length=20,
        choices=AuthMethod.choices,
        default=AuthMethod.CLIENT_SECRET_BASIC,
        help_text=_(
            "How a confidential app proves who it is. With a JWT method it can no longer send its "
            "secret itself. Public apps send only their client_id."
        ),
    )
    token_endpoint_auth_signing_alg = models.CharField(
        _("client assertion algorithm"),
        max_length=5,
        blank=True,
        help_text=_(
            "The only algorithm accepted for the app's client assertions. Blank: any the method allows."
        ),
    )
    # OIDC Registration 1.0 §2: the app's public keys, inline (a JWK Set) or at an https URL
    # (client_keys.py); never both.
    jwks = models.JSONField(_("public keys (JWK Set)"), null=True, blank=True, default=None)
    jwks_uri = models.CharField(
        _("public keys URL (jwks_uri)"),
        max_length=2000,
        blank=True,
        help_text=_("An https URL serving the app's JWK Set; fetched when needed and cached."),
    )
    # OIDC Core 1.0 §6, RFC 9101: request objects (request_objects.py).
    request_object_signing_alg = models.CharField(
        _("request object algorithm"),
        max_length=5,
        blank=True,
        help_text=_(
            "The only algorithm accepted for the app's request objects; “none” lets it send unsigned "
            "ones. Blank: any signed algorithm the provider accepts."
        ),
    )
    require_signed_request_object = models.BooleanField(
        _("require signed request objects"),
        default=False,
        help_text=_("Authorization requests must come in a signed request object (RFC 9101 §10.5)."),
    )
    request_uris = models.TextField(
        _("request URIs"),
        blank=True,
        default="",
        help_text=_("The https URLs (space-separated) from which request objects may be fetched."),
    )

    objects = ApplicationManager()

    # Not stored: a secret the admin just generated, for the one response that shows it.
    new_secret: str | None = None

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("app")
        verbose_name_plural = _("apps")

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        # Built without Model.__init__'s loop per column (ground/rows.py): every protocol request
        # loads its client.
        return row_object(cls, db, field_names, values)

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

    @property
    def sector(self) -> str | None:
        """Return the host whose apps share this client's pairwise subjects (OIDC Core 1.0 §8.1)."""
        return sector_of(
            sector_identifier_uri=self.sector_identifier_uri.strip(), redirect_uris=self.redirect_uris.split()
        )

    @property
    def signs_with_secret(self) -> bool:
        """Return whether anything is signed with this client's secret (HS256 ID tokens or UserInfo)."""
        return Algorithm.HS256 in (self.algorithm, self.userinfo_signed_response_alg)

    def allows_grant_type(self, *grant_types: str) -> bool:
        # DOT asks with its own constants ("authorization-code", "openid-hybrid", ...).
        wanted = {DOT_GRANT_NAMES.get(grant_type, grant_type) for grant_type in grant_types}
        return bool(wanted.intersection(self.grant_types or []))

    def redirect_uri_allowed(self, uri: str) -> bool:
        # RFC 8252 §7.3: a native (public) client on a loopback IP may pick any port at request
        # time; every other client's URI must match exactly (RFC 9700 §2.1, OIDC Core 1.0
        # §3.1.2.1), or any program listening on the host could receive a confidential client's code.
        allowed = super().redirect_uri_allowed(uri)
        loopback_any_port = self.client_type == self.CLIENT_PUBLIC and not private_use_scheme(uri)
        return allowed and (loopback_any_port or uri in self.redirect_uris.split())

    def get_allowed_schemes(self) -> list[str]:
        # RFC 8252 §7.1: a native app's own private-use schemes, as registered (Client.clean
        # allows them for public clients only); the response redirect checks against this list.
        schemes = list(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
        if self.client_type == self.CLIENT_PUBLIC:
            for uri in self.redirect_uris.split():
                scheme = private_use_scheme(uri)
                if scheme and scheme not in schemes:
                    schemes.append(scheme)
        return schemes

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
        self._clean_response_types(errors)
        self._clean_name(errors)
        self._clean_uris(errors)
        self._clean_client_keys(errors)
        if self.client_type == self.CLIENT_PUBLIC:
            # RFC 9700 §2.1.1: a client without a secret always proves the code is its own with PKCE.
            self.require_pkce = True
            if GrantType.CLIENT_CREDENTIALS in (self.grant_types or []):
                # RFC 6749 §4.4: the grant authenticates the client, which a public client cannot.
                errors.setdefault("grant_types", []).append(
                    _("An app that cannot keep a secret cannot use client credentials (RFC 6749 §4.4).")
                )
            if GrantType.TOKEN_EXCHANGE in (self.grant_types or []):
                # RFC 8693 §2.1: the caller authenticates; the client is the actor (§4.1).
                errors.setdefault("grant_types", []).append(
                    _("An app that cannot keep a secret cannot exchange tokens (RFC 8693).")
                )
        problem = client_secret_problem(self.client_secret)
        if problem and self.client_type == self.CLIENT_CONFIDENTIAL:
            errors["client_secret"] = [problem]
        if self.client_type != self.CLIENT_CONFIDENTIAL:
            # OIDC Core 1.0 §10.1: a public client has no secret to be the HMAC key.
            for field in ("algorithm", "userinfo_signed_response_alg"):
                if getattr(self, field) == Algorithm.HS256:
                    errors[field] = [
                        _("HS256 signs with the client secret: only confidential clients may use it.")
                    ]
        try:
            super().clean()
        except ValidationError as error:
            # DOT's algorithm check wants a settings key; ours are managed rows (keys.py). For
            # HS256 DOT wants the secret stored unhashed; we keep a hash and an encrypted copy.
            ignored = {"algorithm"}
            if self.secret_kept_encrypted:
                ignored |= {"hash_client_secret", "client_secret"}
            # Our URI rule (redirect_uris.py) is stricter than DOT's; one message per problem.
            uri_fields = ("redirect_uris", "post_logout_redirect_uris", "allowed_origins")
            ignored |= {field for field in uri_fields if field in errors}
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
        public = self.client_type == self.CLIENT_PUBLIC
        for field in uri_fields:
            # RFC 8252 §7.1: native apps' private-use schemes, for redirects only.
            native = public if field == "redirect_uris" else None
            problems: list[StrOrPromise | ValidationError] = [
                problem
                for uri in getattr(self, field).split()
                if (problem := redirect_uri_problem(uri, native=native))
            ]
            if problems:
                errors[field] = problems
        # The server itself POSTs to the back-channel URI (the browser loads the front-channel
        # one), so it must lead to a public address; refused with invalid_client_metadata at
        # registration (RFC 7591 §3.2.2). A name that does not resolve yet is checked at each POST.
        backchannel = self.backchannel_logout_uri.strip()
        if backchannel and "backchannel_logout_uri" not in errors and (refusal := uri_refusal(backchannel)):
            errors["backchannel_logout_uri"] = [f"{refusal}."]
        origin_problems: list[StrOrPromise | ValidationError] = [
            problem
            for origin in self.allowed_origins.split()
            if (problem := origin_problem(origin, public=public))
        ]
        if origin_problems:
            errors["allowed_origins"] = origin_problems
        if GrantType.AUTHORIZATION_CODE in (self.grant_types or []) and not self.redirect_uris.split():
            errors.setdefault("redirect_uris", []).append(
                _("An app that signs people in needs at least one redirect URI.")
            )
        self._clean_sector(errors)

    def _clean_response_types(self, errors: ValidationErrors) -> None:
        types = self.response_types if isinstance(self.response_types, list) else None
        if types is None or set(types) - set(ResponseType.values) or len(set(types)) != len(types):
            errors["response_types"] = [_("Choose any of: %s") % ", ".join(ResponseType.values)]
            return
        if not types and GrantType.AUTHORIZATION_CODE in (self.grant_types or []):
            errors["response_types"] = [_("An app that signs people in needs a response type: code.")]
        # Only an app that signs people in at the authorization endpoint (with its redirect
        # URIs) can use the implicit or hybrid response types.
        if set(types) - {ResponseType.CODE} and GrantType.AUTHORIZATION_CODE not in (self.grant_types or []):
            errors["response_types"] = [
                _("Implicit and hybrid response types are for apps that sign people in (authorization_code).")
            ]

    def _clean_client_keys(self, errors: ValidationErrors) -> None:
        """Judge the authentication method, public keys and request object settings.

        OIDC Registration 1.0 §2: token_endpoint_auth_method, jwks or jwks_uri,
        request_object_signing_alg, request_uris; RFC 9101 §10.5 require_signed_request_object.
        """
        self.jwks_uri = self.jwks_uri.strip()
        method = self.token_endpoint_auth_method
        jwt_algorithms: dict[str, tuple[str, ...]] = {
            self.AuthMethod.CLIENT_SECRET_JWT: HMAC_ALGORITHMS,
            self.AuthMethod.PRIVATE_KEY_JWT: tuple(SIGNING_ALGORITHMS),
        }
        if (
            method == self.AuthMethod.CLIENT_SECRET_JWT
            and self.client_type == self.CLIENT_CONFIDENTIAL
            and _looks_hashed(self.client_secret or "")
            and not self.client_secret_encrypted
        ):
            # OIDC Core 1.0 §9: the HMAC key is the secret itself, which is kept only as a hash.
            errors["token_endpoint_auth_method"] = [
                _(
                    "client_secret_jwt verifies with the secret itself, which is stored only as a hash: "
                    "set a new secret in the same change."
                )
            ]
        if method in jwt_algorithms and self.client_type != self.CLIENT_CONFIDENTIAL:
            errors["token_endpoint_auth_method"] = [
                _("An app that cannot keep a secret sends only its client_id; it has no method to choose.")
            ]
        alg = self.token_endpoint_auth_signing_alg
        if alg and alg not in jwt_algorithms.get(method, ()):
            errors["token_endpoint_auth_signing_alg"] = [
                _("Choose one of: %s (or leave it blank).") % ", ".join(jwt_algorithms.get(method, ()))
                if method in jwt_algorithms
                else _("Only the JWT authentication methods sign anything; leave it blank.")
            ]
        if self.jwks not in (None, "", {}) and self.jwks_uri:
            # OIDC Registration 1.0 §2: jwks and jwks_uri must not both be used.
            errors["jwks"] = [_("Give the keys either inline or as a URL, not both.")]
        elif self.jwks not in (None, "", {}):
            try:
                jwk_set_parse(self.jwks)
            except JwkSetError as error:
                errors["jwks"] = [str(error)]
        elif self.jwks_uri:
            if not self.jwks_uri.startswith("https://"):
                errors["jwks_uri"] = [_("The keys URL must be an https URL (OIDC Registration 1.0 §2).")]
            elif refusal := uri_refusal(self.jwks_uri):
                errors["jwks_uri"] = [f"{refusal}."]
        else:
            self.jwks = None
            if method == self.AuthMethod.PRIVATE_KEY_JWT:
                errors.setdefault("token_endpoint_auth_method", []).append(
                    _("private_key_jwt needs the app's public keys: give a JWK Set or its URL.")
                )
        request_alg = self.request_object_signing_alg
        if request_alg and request_alg not in (*SIGNING_ALGORITHMS, "none"):
            errors["request_object_signing_alg"] = [
                _("Choose one of: %s, none (or leave it blank).") % ", ".join(SIGNING_ALGORITHMS)
            ]
        if request_alg == "none" and self.require_signed_request_object:
            errors["require_signed_request_object"] = [
                _("Signed request objects cannot have the algorithm none.")
            ]
        problems: list[StrOrPromise | ValidationError] = []
        for uri in self.request_uris.split():
            if not uri.startswith("https://") or len(uri) > 512:
                problems.append(_("%s: request URIs must be https URLs.") % uri[:100])
            elif refusal := uri_refusal(uri):
                # The provider fetches them itself (RFC 9101 §10.4): public addresses only.
                problems.append(f"{uri[:100]}: {refusal}.")
        if problems:
            errors["request_uris"] = problems

    def _clean_sector(self, errors: ValidationErrors) -> None:
        # OIDC Core 1.0 §8.1, OIDC Registration 1.0 §5: judged after the redirect URIs, and the
        # sector document fetched again only when it or the redirect URIs changed.
        self.sector_identifier_uri = self.sector_identifier_uri.strip()
        if "sector_identifier_uri" in errors or "redirect_uris" in errors:
            return
        fetch = False
        if self.sector_identifier_uri:
            stored = Client.objects.filter(pk=self.pk).values_list("sector_identifier_uri", "redirect_uris")
            fetch = stored.first() != (self.sector_identifier_uri, self.redirect_uris)
        problems = sector_problems(
            subject_type=self.subject_type,
            sector_identifier_uri=self.sector_identifier_uri,
            redirect_uris=self.redirect_uris.split(),
            fetch=fetch,
        )
        for field, messages in problems.items():
            errors.setdefault(field, []).extend(messages)
        if self.subject_type == self.SubjectType.PAIRWISE and not settings.PORCHLIGHT["PAIRWISE_SALT"]:
            errors.setdefault("subject_type", []).append(
                _(
                    "Set PORCHLIGHT_PAIRWISE_SALT before making an app pairwise: every pairwise subject "
                    "is derived from it."
                )
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

    @property
    def secret_kept_encrypted(self) -> bool:
        """Return whether the provider needs this client's secret itself, not only its hash.

        HS256 ID tokens and UserInfo responses are signed with it (OIDC Core 1.0 §10.1);
        client_secret_jwt assertions are verified with it (OIDC Core 1.0 §9).
        """
        return self.signs_with_secret or self.token_endpoint_auth_method == self.AuthMethod.CLIENT_SECRET_JWT

    def _keep_secret_for_hs256(self) -> None:
        """Encrypt a newly set secret for a client that needs it; drop the copy for any other."""
        if not self.secret_kept_encrypted or not self.client_secret:
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
    # RFC 8693 §4.1: for a token issued by token exchange, the actor (the client that exchanged
    # it, and any earlier actors nested inside), as its JWT and its introspection show it.
    act = models.JSONField(_("actor"), null=True, blank=True, editable=False)
    # The claims the authorization request asked for by name (OIDC Core 1.0 §5.5), as
    # {"id_token": [...], "userinfo": [...]}: UserInfo and refreshed ID tokens keep releasing them.
    claims = models.JSONField(_("requested claims"), default=dict, blank=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        # Built without Model.__init__'s loop per column (ground/rows.py): UserInfo and
        # introspection load one per request.
        return row_object(cls, db, field_names, values)

    @property
    def scopes(self) -> dict[str, str]:
        """Return the token's scopes that still exist, with their descriptions (DOT's, for APIs too).

        An API scope or identity scope deleted since the token was issued no longer counts. Only a
        token with such scopes costs a query (UserInfo reads this on every call).
        """
        names = self.scope.split()
        found = {name: SCOPE_DESCRIPTIONS[name] for name in names if name in SCOPE_DESCRIPTIONS}
        for model in (ApiScope, IdentityScope):
            others = [name for name in names if name not in found]
            if not others:
                break
            found.update(model.objects.filter(name__in=others).values_list("name", "description"))
        return found


class RefreshToken(AuthContextFields, AbstractRefreshToken):
    # OIDC Core 1.0 §11: an offline token (offline_access granted) outlives the sign-in session;
    # any other refresh token is bound to ``session_id`` and dies with that session.
    offline = models.BooleanField(_("offline access"), default=False)
    # Once rotated: the response that carried its successor, encrypted with the key-encryption
    # key, sent again to a client that retries within PORCHLIGHT_REFRESH_REUSE_GRACE (refresh.py).
    retry_response_encrypted = models.TextField(editable=False, blank=True, default="")
    # As AccessToken.claims: carried to every token the refresh token buys.
    claims = models.JSONField(_("requested claims"), default=dict, blank=True)

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    session_id = models.CharField(_("login session"), max_length=64, blank=True, db_index=True)

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
        verbose_name = _("ID token")
        verbose_name_plural = _("ID tokens")


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
        verbose_name_plural = _("apps in sign-in sessions")

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
        verbose_name_plural = _("signing keys")
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
    # Claims allowed one by one, asked for with the claims parameter (OIDC Core 1.0 §5.5)
    # beyond what the granted scopes release.
    claims = models.JSONField(_("granted claims"), default=list, blank=True)
    created = models.DateTimeField(_("first granted"), auto_now_add=True)
    updated = models.DateTimeField(_("last granted"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="one_consent_per_user_client")]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"


class IdentityScope(models.Model):
    """A scope of Porchlight's own that releases custom claims (OIDC Core 1.0 §5.4 allows others)."""

    name = models.CharField(
        _("name"),
        max_length=64,
        unique=True,
        help_text=_("What apps put in the scope parameter, e.g. employment. No spaces."),
    )
    description = models.CharField(
        _("description"),
        max_length=200,
        help_text=_("What the consent page tells the user it shares, e.g. “Your job title and department”."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("identity scope")
        verbose_name_plural = _("identity scopes")

    def __str__(self) -> str:
        return self.name


class ClaimDefinition(models.Model):
    """A claim of Porchlight's own: an attribute users have, the scope that releases it, and where it goes.

    Values live on the user (``User.attributes``, by ``name``); custom_claims.py releases them.
    """

    name = models.CharField(
        _("claim name"),
        max_length=255,
        unique=True,
        help_text=_(
            "The claim's name in tokens and UserInfo, e.g. department or a collision-resistant "
            "URL such as https://example.com/claims/department (OIDC Core 1.0 §5.1.2)."
        ),
    )
    label = models.CharField(
        _("label"), max_length=100, help_text=_("What users read on their profile and consent pages.")
    )
    description = models.CharField(
        _("help text"), max_length=300, blank=True, help_text=_("Shown under the field on the profile page.")
    )
    type = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.STRING)
    scope = models.CharField(
        _("scope"),
        max_length=64,
        help_text=_("The scope that releases it: profile, email, address, phone, or an identity scope."),
    )
    user_editable = models.BooleanField(
        _("users may edit it"), default=False, help_text=_("Otherwise only staff set it.")
    )
    in_id_token = models.BooleanField(_("in ID tokens"), default=False)
    in_userinfo = models.BooleanField(_("in UserInfo"), default=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("claim definition")
        verbose_name_plural = _("claim definitions")

    def __str__(self) -> str:
        return self.name


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
        verbose_name_plural = _("registration tokens")

    def __str__(self) -> str:
        return self.label

    def is_usable(self) -> bool:
        if self.expires <= timezone.now():
            return False
        return self.max_uses is None or self.uses < self.max_uses


class ClientRegistration(models.Model):
    """How a self-registered client manages its registration (RFC 7592): its registration access
    token, and the metadata it registered that no column of ``Client`` holds.

    Only the token's SHA-256 is stored; the client sees the token once, in the registration (or
    update) response. Staff revoking it clears the hash: the client then cannot read, change or
    delete its registration (RFC 7592 §2: 401 invalid_token).
    """

    client = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="registration"
    )
    access_token_hash = models.CharField(max_length=64, unique=True, null=True, editable=False)
    access_token_issued = models.DateTimeField(_("registration access token issued"), null=True)
    # RFC 7591 §2 application_type, token_endpoint_auth_method and scope, as registered.
    metadata = models.JSONField(_("registered metadata"), default=dict, editable=False)

    class Meta:
        verbose_name = _("client registration")
        verbose_name_plural = _("client registrations")

    def __str__(self) -> str:
        return f"Registration of {self.client}"


# The scopes and claims of OpenID Connect itself (claims.py): no API may define a scope so named.
OIDC_SCOPE_NAMES = ("openid", "profile", "email", "address", "phone", "groups", "offline_access")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# The longest access-token lifetime an API may set, as for the global one (settings.py).
MAX_API_TOKEN_LIFETIME = 86400


class Api(models.Model):
    """A resource server: its access tokens' audience, its scopes and what its tokens carry.

    ``identifier`` is the RFC 8707 ``resource`` value that names it and the ``aud`` of its
    tokens (RFC 9068 §3). Which of ``claims.SCOPE_CLAIMS``'s claims (and ``groups``) its tokens
    carry is staff's choice, not the user's scopes: the consent page says so (docs/apis.md).
    """

    identifier = models.CharField(
        _("identifier"),
        max_length=2000,
        unique=True,
        help_text=_(
            "An absolute URI without a fragment, e.g. https://api.example.com/: the tokens' audience."
        ),
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("Shown to people on the consent page."))
    format = models.CharField(
        _("access token format"),
        max_length=6,
        choices=Client.AccessTokenFormat.choices,
        default=Client.AccessTokenFormat.JWT,
    )
    lifetime = models.PositiveIntegerField(
        _("access token lifetime (seconds)"),
        null=True,
        blank=True,
        help_text=_("Leave blank for the provider's default."),
    )
    algorithm = models.CharField(
        _("access token signing algorithm"),
        max_length=5,
        choices=[(alg.value, alg.label) for alg in KEY_ALGORITHMS],
        default=Algorithm.RS256,
    )
    token_claims = models.JSONField(
        _("identity claims in its tokens"),
        default=list,
        blank=True,
        help_text=_(
            "Claims about the person its access tokens carry, e.g. email, preferred_username, groups."
        ),
    )
    keycloak_roles = models.BooleanField(
        _("Keycloak-style roles"),
        default=False,
        help_text=_("Also put roles in realm_access and resource_access, as Keycloak does."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "identifier"]
        verbose_name = _("API")
        verbose_name_plural = _("APIs")

    def __str__(self) -> str:
        return self.name or self.identifier

    def natural_key(self) -> tuple[str]:
        return (self.identifier,)

    def clean(self) -> None:
        # DOT's module reads the swapped client model when imported, so not before models load.
        from oauth2_provider.oauth2_validators import is_valid_resource_uri

        errors: ValidationErrors = {}
        self.identifier = (self.identifier or "").strip()
        if not is_valid_resource_uri(self.identifier):
            # RFC 8707 §2: an absolute URI, without a fragment.
            errors["identifier"] = [
                _("Give an absolute URI with a scheme and host, without a fragment or user name.")
            ]
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = [_("Give the API a name: people see it on the consent page.")]
        if self.lifetime is not None and not 1 <= self.lifetime <= MAX_API_TOKEN_LIFETIME:
            errors["lifetime"] = [_("Between 1 and %d seconds.") % MAX_API_TOKEN_LIFETIME]
        claims = self.token_claims
        if not isinstance(claims, list) or not all(isinstance(claim, str) for claim in claims):
            errors["token_claims"] = [_("A list of claim names.")]
        else:
            known = api_token_claim_names()
            unknown = [claim for claim in claims if claim not in known]
            if unknown:
                errors["token_claims"] = [
                    _("Unknown claims: %(unknown)s. Choose from: %(known)s.")
                    % {"unknown": ", ".join(unknown), "known": ", ".join(known)}
                ]
            else:
                self.token_claims = list(dict.fromkeys(claims))
        if errors:
            raise ValidationError(errors)


def api_token_claim_names() -> list[str]:
    """Return the identity claims an API's tokens may carry: OIDC Core 1.0 §5.1's, groups, and staff's own."""
    standard = [claim for names in SCOPE_CLAIMS.values() for claim in names if claim != "sub"]
    return [*standard, *ClaimDefinition.objects.values_list("name", flat=True)]


class ApiScope(models.Model):
    """A permission an API defines (``read:items``), which clients ask for by name."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="scopes", verbose_name=_("API"))
    # Unique across every API: a scope names its API, so a request without resource has one audience.
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(
        _("description"), max_length=200, help_text=_("In plain words: the consent page shows it.")
    )

    class Meta:
        ordering = ["api__name", "name"]
        verbose_name = _("API scope")
        verbose_name_plural = _("API scopes")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: ValidationErrors = {}
        self.name = (self.name or "").strip()
        if not SCOPE_TOKEN.fullmatch(self.name):
            errors["name"] = [
                _("A scope is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3).")
            ]
        elif self.name in OIDC_SCOPE_NAMES:
            errors["name"] = [_("“%s” is an OpenID Connect scope; choose another name.") % self.name]
        elif IdentityScope.objects.filter(name=self.name).exists():
            # One name, one meaning: an identity scope staff defined (docs/claims.md) is not an API's.
            errors["name"] = [_("“%s” is an identity scope; choose another name.") % self.name]
        self.description = (self.description or "").strip()
        if not self.description:
            errors["description"] = [_("Say in plain words what it allows: the consent page shows it.")]
        if errors:
            raise ValidationError(errors)


class Role(models.Model):
    """A role staff give people and groups; access tokens list the roles of their user.

    A role belongs to an API, to a client, or to neither (a global role, Keycloak's "realm role").
    """

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=200, blank=True)
    api = models.ForeignKey(
        Api, null=True, blank=True, on_delete=models.CASCADE, related_name="roles", verbose_name=_("API")
    )
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="roles",
        verbose_name=_("app"),
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="oidc_roles", verbose_name=_("users")
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="oidc_roles", verbose_name=_("groups"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(api__isnull=True) | models.Q(client__isnull=True),
                name="role_one_owner",
            ),
            models.UniqueConstraint(
                fields=["api", "name"], condition=models.Q(api__isnull=False), name="role_name_per_api"
            ),
            models.UniqueConstraint(
                fields=["client", "name"],
                condition=models.Q(client__isnull=False),
                name="role_name_per_client",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(api__isnull=True, client__isnull=True),
                name="role_name_global",
            ),
        ]

    def __str__(self) -> str:
        owner = self.api or self.client
        return f"{self.name} ({owner})" if owner else self.name

    def clean(self) -> None:
        errors: ValidationErrors = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = [_("Give the role a name.")]
        if self.api_id is not None and self.client_id is not None:
            errors["client"] = [_("A role belongs to an API or to a client, not both.")]
        elif self.name and not any(
            owner is not None and owner.pk is None for owner in (self.api, self.client)
        ):
            # (An owner being added with its roles has none yet: nothing to clash with.)
            same = Role.objects.filter(name=self.name, api=self.api, client=self.client)
            if same.exclude(pk=self.pk).exists():
                errors["name"] = [_("There is already a role “%s” here.") % self.name]
        if errors:
            raise ValidationError(errors)


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
        verbose_name_plural = _("client request counts")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class ClientAssertionUse(models.Model):
    """A client assertion's ``jti`` that has been used (RFC 7523 §3, OIDC Core 1.0 §9; client_auth.py).

    The unique constraint is the replay check: the INSERT of a second use fails, on every node
    at once. Rows are kept until the assertion expires, then pruned by housekeeping.
    """

    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    # SHA-256 of the jti: bounded length whatever the client sent.
    jti_hash = models.CharField(max_length=64)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("used client assertion")
        verbose_name_plural = _("used client assertions")
        constraints = [
            models.UniqueConstraint(fields=["client", "jti_hash"], name="client_assertion_jti_once"),
        ]

    def __str__(self) -> str:
        return f"{self.jti_hash[:12]}… until {self.expires:%Y-%m-%d %H:%M}"


class ClientKeySet(models.Model):
    """The JWK Set last fetched from a client's ``jwks_uri`` (client_keys.py), shared by every node."""

    client = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="fetched_key_set"
    )
    # The URI it came from: a changed jwks_uri makes the row stale at once.
    uri = models.CharField(max_length=2000)
    # The set last fetched ({} until one fetch succeeded) and when; when a fetch was last tried,
    # whether or not it succeeded (re-fetches are rate-limited by it).
    keys = models.JSONField(default=dict)
    fetched = models.DateTimeField(null=True)
    tried = models.DateTimeField()

    class Meta:
        verbose_name = _("fetched client key set")
        verbose_name_plural = _("fetched client key sets")

    def __str__(self) -> str:
        return f"{self.uri} (tried {self.tried:%Y-%m-%d %H:%M})"
