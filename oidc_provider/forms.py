"""The admin's client form, in plain words: a kind of app, its addresses, and a write-only secret.

The rules a client obeys are ``Client.clean()``'s (the form runs it); the form adds only what
belongs to the form: the kind of app, which grant types that kind may use, and the typed secret.
"""

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from .client_settings import Kind
from .hashers import client_secret_problem
from .models import Algorithm, Api, Client, GrantType, ResponseType, api_token_claim_names
from .services import CLIENT_KEY_FIELDS

GRANT_TYPE_LABELS: dict[str, StrOrPromise] = {
    GrantType.AUTHORIZATION_CODE: _("Sign people in (authorization code flow)"),
    GrantType.REFRESH_TOKEN: _("Keep people signed in (refresh tokens)"),
    GrantType.CLIENT_CREDENTIALS: _("Call APIs as itself, with no person (client credentials)"),
    GrantType.DEVICE_CODE: _("Sign in on a TV, console or command line (device code)"),
    GrantType.TOKEN_EXCHANGE: _("Call another API on a person's behalf (token exchange)"),
}

LABELS: dict[str, StrOrPromise] = {
    "name": _("Name"),
    "redirect_uris": _("Redirect URIs"),
    "post_logout_redirect_uris": _("After signing out, return to"),
    "allowed_origins": _("Browser origins"),
    "skip_authorization": _("Trusted first-party app (no consent page)"),
    "release_groups": _("Tell the app which groups people are in"),
    "subject_type": _("Identifier apps see for a person"),
    "sector_identifier_uri": _("Sector identifier URI"),
    "backchannel_logout_uri": _("Back-channel logout URI"),
    "backchannel_logout_session_required": _("Back-channel logout needs the session id (sid)"),
    "frontchannel_logout_uri": _("Front-channel logout URI"),
    "frontchannel_logout_session_required": _("Front-channel logout needs iss and sid"),
    "require_mfa": _("Require two-step sign-in"),
    "algorithm": _("ID token signature"),
    "access_token_algorithm": _("Access token signature"),
    "user": _("Owner"),
    "may_introspect": _("May look up other apps' tokens"),
    "require_pkce": _("Require PKCE"),
    "access_token_format": _("Access token format"),
    "token_exchange_apis": _("May swap tokens of these APIs"),
}
HELP: dict[str, StrOrPromise] = {
    "name": _("People see it when they sign in and on their Connected apps page. Must be unique."),
    "redirect_uris": _(
        "Where people return after signing in, one per line, exactly as the app sends "
        "it (e.g. https://app.example.com/oidc/callback). https only; http only for localhost or 127.0.0.1; "
        "a native app (public) may use its reverse-domain scheme (com.example.app:/callback)."
    ),
    "post_logout_redirect_uris": _(
        "Optional. Addresses the app may send people back to after "
        "signing out, one per line, with the same rules."
    ),
    "allowed_origins": _(
        "Only for apps whose JavaScript calls the token, UserInfo or revocation "
        "endpoint: their origins, one per line (e.g. https://app.example.com). https only; "
        "http://localhost:PORT, http://127.0.0.1:PORT or http://[::1]:PORT only for public clients."
    ),
    "skip_authorization": _("For your organisation's own apps: people are not asked to allow access."),
    # The protocol references behind these lines are in docs/clients.md, for the developers who
    # need them; the form says what each setting does for the people using the app.
    "algorithm": _(
        "How the app checks that sign-ins really come from here. RS256 works with every library; "
        "ES256 and EdDSA are smaller and faster."
    ),
    "access_token_algorithm": _(
        "Every API can check RS256. Choose ES256 or EdDSA only if all the APIs this app calls accept it."
    ),
    "access_token_format": _(
        "Self-contained tokens let APIs work without asking Porchlight; opaque ones reveal nothing "
        "to the app and can be withdrawn at once."
    ),
    "require_pkce": _(
        "A one-time check that stops a stolen sign-in code being used by someone else. Apps without "
        "a secret always use it; turn it off only if this app's library cannot, and it then must "
        "send a nonce instead."
    ),
    "may_introspect": _(
        "For an API's back end: it may ask Porchlight whether any app's access token is still "
        "valid and whose it is. Leave off for ordinary apps."
    ),
    "token_exchange_apis": _(
        "For an API's own back end: it may trade a person's access token it received for one to "
        "another API, acting for the same person."
    ),
    "require_signed_request_object": _(
        "The app must sign its sign-in requests with its own key, so nobody can alter them on the way."
    ),
    "user": _("Optional: the person responsible for this app. Type a name, username or e-mail address."),
    "subject_type": _(
        "Pairwise: each sector (the host of the sector identifier URI, else of the redirect "
        "URIs) gets its own identifier for a person, so unrelated apps cannot match up their users."
    ),
    "jwks": _(
        "The app's public keys as a JWK Set (JSON), for private_key_jwt and signed request "
        "objects. Public keys only; or give their URL below instead."
    ),
    "sector_identifier_uri": _(
        "Optional; for pairwise apps whose redirect URIs are on several hosts: an "
        "https URL answering a JSON array with every redirect URI. Fetched when the app is saved."
    ),
}


def _field_label(name: str) -> str:
    label = LABELS.get(name)
    if label:
        return str(label)
    try:
        field = Client._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    # Client.clean() names its own fields; a relation's reverse side would have no verbose_name.
    return str(field.verbose_name) if isinstance(field, models.Field) else name


class ClientAdminForm(forms.ModelForm[Client]):
    kind = forms.ChoiceField(
        label=_("Kind of app"),
        choices=list(Kind.LABELS.items()),
        widget=forms.RadioSelect,
        help_text=_("Decides whether the app has a secret and what it may do."),
    )
    grant_types = forms.MultipleChoiceField(
        label=_("What the app may do"),
        choices=list(GRANT_TYPE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=Kind.DEFAULT_GRANT_TYPES[Kind.WEB],
    )
    response_types = forms.MultipleChoiceField(
        label=_("Response types"),
        choices=ResponseType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ResponseType.CODE],
        required=False,
        help_text=_("Keep only “code” unless the app cannot do without the others (see above)."),
    )
    new_client_secret = forms.CharField(
        label=_("New client secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Leave blank to keep the current secret (or, for a new app, to generate a strong one "
            "that is shown once after saving). A secret you type must be at least 32 random characters."
        ),
    )

    class Meta:
        model = Client
        fields = [
            "name",
            "grant_types",
            "redirect_uris",
            "post_logout_redirect_uris",
            "allowed_origins",
            "skip_authorization",
            "require_mfa",
            "release_groups",
            "subject_type",
            "sector_identifier_uri",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "frontchannel_logout_uri",
            "frontchannel_logout_session_required",
            "require_pkce",
            "response_types",
            "algorithm",
            "userinfo_signed_response_alg",
            "access_token_format",
            "access_token_algorithm",
            "may_introspect",
            "allowed_scopes",
            "token_exchange_apis",
            "rate_limit",
            *CLIENT_KEY_FIELDS,
            "user",
        ]
        labels = LABELS
        help_texts = HELP
        widgets = {
            field: forms.Textarea(attrs={"rows": 3, "cols": 60, "spellcheck": "false"})
            for field in (
                "redirect_uris",
                "post_logout_redirect_uris",
                "allowed_origins",
                "jwks",
                "request_uris",
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shown only where it matters (not for public apps, which send no credential): left out,
        # the app keeps its method (a new one: client_secret_basic).
        if "token_endpoint_auth_method" in self.fields:
            self.fields["token_endpoint_auth_method"].required = False
        # The kind asked for (the ``kind`` field's value), else the instance's.
        self.app_kind: str = self.data.get("kind") or self.initial.get("kind") or Kind.of(self.instance)
        if self.app_kind not in Kind.LABELS:
            self.app_kind = Kind.WEB
        self.initial.setdefault("kind", self.app_kind)
        if "name" in self.fields:
            self.fields["name"].required = True
        if "subject_type" in self.fields:
            # Left out (a form posted without it): the app keeps its subject type.
            self.fields["subject_type"].required = False
        grant_types = self.fields.get("grant_types")
        if isinstance(grant_types, forms.ChoiceField) and self.instance.pk is None:
            # A new app is offered only what its kind can use.
            grant_types.choices = [
                (value, GRANT_TYPE_LABELS[value]) for value in Kind.GRANT_TYPES[self.app_kind]
            ]

    def clean_subject_type(self) -> str:
        subject_type: str = self.cleaned_data.get("subject_type") or self.instance.subject_type
        return subject_type

    @cached_property
    def changed_data(self) -> list[str]:
        changed: list[str] = super().changed_data
        if not self.data.get("subject_type"):
            # Left out, so kept (clean_subject_type): not a change.
            changed = [name for name in changed if name != "subject_type"]
        return changed

    def clean_response_types(self) -> list[str]:
        # Nothing ticked is the default: the code flow only.
        chosen: list[str] = self.cleaned_data.get("response_types") or [ResponseType.CODE]
        return chosen

    def clean_new_client_secret(self) -> str:
        secret: str = self.cleaned_data["new_client_secret"]
        if secret:
            problem = client_secret_problem(secret)
            if problem:
                raise ValidationError(problem)
        return secret

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind = cleaned.get("kind", self.app_kind)
        # The kind decides whether the app can keep a secret; Client.clean() judges the rest.
        self.instance.client_type = Kind.CLIENT_TYPES.get(kind, Client.CLIENT_CONFIDENTIAL)
        if "grant_types" not in self.fields:
            self.instance.grant_types = Kind.DEFAULT_GRANT_TYPES.get(kind, self.instance.grant_types)
        granted = cleaned.get("grant_types") or []
        allowed = Kind.GRANT_TYPES.get(kind, [])
        refused = [value for value in granted if value not in allowed]
        if refused:
            self.add_error(
                "grant_types",
                _("A %(kind)s can: %(abilities)s.")
                % {
                    "kind": Kind.LABELS[kind].lower(),
                    "abilities": "; ".join(str(GRANT_TYPE_LABELS[value]).lower() for value in allowed),
                },
            )
        public = self.instance.client_type == Client.CLIENT_PUBLIC
        if public and cleaned.get("new_client_secret"):
            self.add_error("new_client_secret", _("This kind of app cannot keep a secret, so it has none."))
        if self._needs_new_secret_for_hs256(cleaned):
            self.add_error(
                "new_client_secret",
                _(
                    "HS256 and client_secret_jwt sign with the client secret: set or reset the secret in "
                    "the same change."
                ),
            )
        return cleaned

    def clean_token_endpoint_auth_method(self) -> str:
        method: str = self.cleaned_data.get("token_endpoint_auth_method") or ""
        return method or self.instance.token_endpoint_auth_method or Client.AuthMethod.CLIENT_SECRET_BASIC

    def _update_errors(self, errors: ValidationError) -> None:
        # Client.clean() may judge a field this form does not show (a machine-to-machine app's
        # redirect URIs, say); Django would raise on those, so they are shown above the form.
        if hasattr(errors, "error_dict"):
            shown = {field: e for field, e in errors.error_dict.items() if field in self.fields}
            hidden = [
                ValidationError(f"{_field_label(field)}: {message}")
                if field != NON_FIELD_ERRORS
                else ValidationError(message)
                for field, e in errors.error_dict.items()
                if field not in self.fields
                for message in ValidationError(e).messages
            ]
            errors = ValidationError({**shown, **({NON_FIELD_ERRORS: hidden} if hidden else {})})
        # Django's private hook (docs/private-apis.md), which django-stubs does not declare.
        super()._update_errors(errors)  # type: ignore[misc]

    def _needs_new_secret_for_hs256(self, cleaned: dict[str, Any]) -> bool:
        # Only a hash of an existing secret is kept, so the HMAC key (OIDC Core 1.0 §10.1)
        # must arrive with the change. A client without a secret gets one generated on save.
        instance = self.instance
        needs_secret = (
            Algorithm.HS256 in (cleaned.get("algorithm"), cleaned.get("userinfo_signed_response_alg"))
            or cleaned.get("token_endpoint_auth_method") == Client.AuthMethod.CLIENT_SECRET_JWT
        )
        return (
            needs_secret
            and instance.client_type == Client.CLIENT_CONFIDENTIAL
            and not cleaned.get("new_client_secret")
            and instance.pk is not None
            and bool(instance.client_secret)
            and not instance.client_secret_encrypted
        )


def _api_token_claim_choices() -> list[tuple[str, str]]:
    return [(claim, claim) for claim in api_token_claim_names()]


class ApiAdminForm(forms.ModelForm[Api]):
    token_claims = forms.MultipleChoiceField(
        label=_("Identity claims in its access tokens"),
        # Read when the form is built: staff's own claims (docs/claims.md) come and go.
        choices=_api_token_claim_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Released to this API whatever scopes the app asked for; the consent page tells people."),
    )

    class Meta:
        model = Api
        fields = ["identifier", "name", "format", "lifetime", "algorithm", "token_claims", "keycloak_roles"]
