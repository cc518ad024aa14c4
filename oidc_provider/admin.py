"""Admin for apps (clients), APIs, tokens, consents and signing keys. Secrets and keys are never listed.

A new app's secret is shown once, on the hand-over page. The POST that made it stores it in the
server-side session and redirects (so a reload cannot resubmit the form); the page that follows
takes it out of the session as it shows it, so neither a reload nor another staff member sees it
again. It is never put in a message, which could sit in a cookie.
"""

import copy
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import FieldOpts, FieldsetSpec, StrOrPromise
from oauth2_provider.models import revoke_access_token

from accounts.models import User
from accounts.user_page import USER_PAGE_SECTIONS, UserPageSection
from audit.actions import Action
from audit.services import audit_record
from ground.admin_columns import short_date, shorten

from .apis import api_delete, api_settings, role_change_record, role_settings
from .client_configuration import registration_access_tokens_revoke
from .client_settings import Kind, client_description, provider_urls
from .consent import consent_revoke
from .forms import ApiAdminForm, ClientAdminForm
from .logout import logout_delivery_retry
from .models import (
    KEY_ALGORITHMS,
    AccessToken,
    Algorithm,
    Api,
    ApiScope,
    ClaimDefinition,
    Client,
    ClientRegistration,
    Consent,
    DeviceGrant,
    Grant,
    GrantType,
    IdentityScope,
    IDToken,
    LogoutDelivery,
    RefreshToken,
    RegistrationToken,
    Role,
    SigningKey,
)
from .registration import registration_token_create
from .rotation import key_retire, keys_rotate
from .services import (
    CLIENT_KEY_FIELDS,
    LOGOUT_FIELDS,
    claim_definition_validate,
    client_change_record,
    client_create_record,
    client_delete,
    client_secret_set,
    identity_scope_validate,
    user_tokens_revoke_all,
)
from .tokens import refresh_token_alive

# The implicit and hybrid flows (response_types.py): off unless staff turn them on, and why not to.
DISCOURAGED_FIELDSET: tuple[StrOrPromise, FieldOpts] = (
    _("Advanced / discouraged"),
    {
        "fields": ["response_types"],
        "classes": ["collapse"],
        "description": _(
            "Response types other than “code” (the implicit and hybrid flows) send tokens through the "
            "browser, where they leak: into browser history, into Referer headers sent to other "
            "sites, and into proxy and server logs. Use the code flow with PKCE; turn these on only "
            "for an older app that cannot do without them. Its tokens from the browser then live at "
            "most 5 minutes and never come with a refresh token."
        ),
    },
)

# The session key holding secrets made by the last POST until the page after it shows them.
HANDOVER_SESSION_KEY = "porchlight_admin_new_secrets"

# DOT registers its own admin classes for whatever models are swapped in; ours replace them.
for _model in (Client, AccessToken, RefreshToken, IDToken, Grant, DeviceGrant):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


def person_label(user: User) -> str:
    """Return "Robin Ames (robin)", or the username alone for someone with no name on file."""
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


def handover_panel(client: Client, number: int, urls: dict[str, str]) -> dict[str, Any]:
    """Return the rows of the hand-over panel for ``client``; its secret only if just made."""
    description = client_description(client)
    secret = client.new_secret
    signs_people_in = bool(
        {GrantType.AUTHORIZATION_CODE, GrantType.DEVICE_CODE} & set(description["grant_types"])
    )
    scopes = ["openid", "profile", "email"]
    if client.release_groups:
        scopes.append("groups")
    if GrantType.REFRESH_TOKEN in description["grant_types"]:
        scopes.append("offline_access")
    rows = [
        {"id": f"issuer-{number}", "label": _("Issuer"), "value": urls["issuer"]},
        {"id": f"discovery-{number}", "label": _("Discovery URL"), "value": urls["discovery_url"]},
        {"id": f"client-id-{number}", "label": _("Client ID"), "value": client.client_id},
    ]
    if secret:
        rows.append({"id": f"client-secret-{number}", "label": _("Client secret"), "value": secret})
    for index, uri in enumerate(description["redirect_uris"], 1):
        rows.append({"id": f"redirect-uri-{number}-{index}", "label": _("Redirect URI"), "value": uri})
    for index, uri in enumerate(description["post_logout_redirect_uris"], 1):
        rows.append(
            {"id": f"post-logout-{number}-{index}", "label": _("Post-logout redirect URI"), "value": uri}
        )
    if signs_people_in:
        rows.append({"id": f"scopes-{number}", "label": _("Scopes to ask for"), "value": " ".join(scopes)})
    env = [
        f"OIDC_ISSUER={urls['issuer']}",
        f"OIDC_DISCOVERY_URL={urls['discovery_url']}",
        f"OIDC_CLIENT_ID={client.client_id}",
    ]
    if secret:
        env.append(f"OIDC_CLIENT_SECRET={secret}")
    if description["redirect_uris"]:
        env.append(f"OIDC_REDIRECT_URI={description['redirect_uris'][0]}")
    return {
        "number": number,
        "client": client,
        "description": description,
        "secret": secret,
        "rows": rows,
        "signs_people_in": signs_people_in,
        "uses_code": GrantType.AUTHORIZATION_CODE in description["grant_types"],
        "env": "\n".join(env),
        # Tall enough for every line, so nothing is hidden behind a scroll bar.
        "env_rows": len(env) + 1,
    }


class KindFilter(admin.SimpleListFilter):
    """Whether the app keeps a secret, in the words of the add page's kinds."""

    title = _("kind of app")
    parameter_name = "client_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [
            (Client.CLIENT_CONFIDENTIAL, _("Has a secret (web server or machine-to-machine)")),
            (Client.CLIENT_PUBLIC, _("No secret (single-page or native)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> QuerySet[Client]:
        if self.value() in (Client.CLIENT_CONFIDENTIAL, Client.CLIENT_PUBLIC):
            return queryset.filter(client_type=self.value())
        return queryset


class TrustedFilter(admin.SimpleListFilter):
    """DOT's ``skip_authorization``, in the form's words."""

    title = _("trusted first-party app")
    parameter_name = "trusted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("yes", _("Trusted: no consent page")), ("no", _("Asks people to allow access"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> QuerySet[Client]:
        if self.value() in ("yes", "no"):
            return queryset.filter(skip_authorization=self.value() == "yes")
        return queryset


class IdTokenSignatureFilter(admin.ChoicesFieldListFilter):
    title = _("ID token signature")


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin[Client]):
    form = ClientAdminForm
    # Short columns that fit beside the filters at 1280 px; the app's page has the rest.
    list_display = ("name", "client_id_short", "kind", "trusted", "source", "created_on")
    list_filter = (
        KindFilter,
        TrustedFilter,
        "require_mfa",
        "release_groups",
        ("algorithm", IdTokenSignatureFilter),
    )
    search_fields = ("name", "client_id", "redirect_uris")
    readonly_fields = ("client_id", "created", "updated", "registration_access")
    actions = ["reset_secret", "revoke_registration_access_token"]
    # A search box that names the person (PersonAutocompleteJsonView), not a bare id.
    autocomplete_fields = ("user",)
    filter_horizontal = ("allowed_scopes",)
    # DOT's get_absolute_url names a page Porchlight does not serve; the developer settings
    # panel is linked from the change page instead.
    view_on_site = False
    change_form_template = "admin/oidc_provider/client/change_form.html"

    @admin.display(description=_("kind of app"))
    def kind(self, obj: Client) -> str:
        return str(Kind.LABELS[Kind.of(obj)])

    @admin.display(description=_("client ID"), ordering="client_id")
    def client_id_short(self, obj: Client) -> str:
        # The whole ID is on the app's page and its hand-over page; here, enough to tell apart.
        return format_html('<code title="{}">{}</code>', obj.client_id, shorten(obj.client_id, 14))

    @admin.display(description=_("trusted (no consent page)"), boolean=True, ordering="skip_authorization")
    def trusted(self, obj: Client) -> bool:
        return bool(obj.skip_authorization)

    @admin.display(description=_("added by"), ordering="registration_source")
    def source(self, obj: Client) -> str:
        return gettext("the app itself") if obj.registered_itself else gettext("staff")

    @admin.display(description=_("added"), ordering="created")
    def created_on(self, obj: Client) -> str:
        return short_date(obj.created)

    def _kind(self, request: HttpRequest, obj: Client | None) -> str:
        if obj is not None:
            return Kind.of(obj)
        kind = request.POST.get("kind") or request.GET.get("kind")
        return kind if kind in Kind.LABELS else Kind.WEB

    def get_fieldsets(self, request: HttpRequest, obj: Client | None = None) -> FieldsetSpec:
        kind = self._kind(request, obj)
        if obj is not None:
            # Every setting, whatever the kind: staff may turn one kind into another.
            return [
                (None, {"fields": ["client_id", "kind", "name"]}),
                (
                    _("Signing people in"),
                    {
                        "fields": [
                            "redirect_uris",
                            "post_logout_redirect_uris",
                            "allowed_origins",
                            "skip_authorization",
                            "require_mfa",
                            "release_groups",
                            "subject_type",
                            "sector_identifier_uri",
                        ]
                    },
                ),
                (_("Single sign-out"), {"fields": LOGOUT_FIELDS}),
                (_("Client authentication and keys"), {"fields": CLIENT_KEY_FIELDS}),
                (_("APIs"), {"fields": ["allowed_scopes"]}),
                DISCOURAGED_FIELDSET,
                (
                    "Advanced",
                    {
                        "fields": [
                            "grant_types",
                            "require_pkce",
                            "algorithm",
                            "userinfo_signed_response_alg",
                            "access_token_format",
                            "access_token_algorithm",
                            "may_introspect",
                            "token_exchange_apis",
                            "rate_limit",
                            "new_client_secret",
                            "registration_access",
                            "user",
                            "created",
                            "updated",
                        ]
                    },
                ),
            ]
        fieldsets: list[tuple[StrOrPromise | None, FieldOpts]] = [(None, {"fields": ["kind", "name"]})]
        if kind != Kind.MACHINE:
            sign_in = ["redirect_uris", "post_logout_redirect_uris"]
            if kind == Kind.NATIVE:
                sign_in.append("allowed_origins")
            fieldsets.append(
                (
                    _("Signing people in"),
                    {
                        "fields": [
                            *sign_in,
                            "skip_authorization",
                            "require_mfa",
                            "release_groups",
                            "subject_type",
                            "sector_identifier_uri",
                        ]
                    },
                )
            )
            fieldsets.append((_("Single sign-out"), {"fields": LOGOUT_FIELDS}))
            fieldsets.append(DISCOURAGED_FIELDSET)
        if kind != Kind.NATIVE:
            fieldsets.append(
                (_("Client authentication and keys"), {"fields": CLIENT_KEY_FIELDS, "classes": ["collapse"]})
            )
        fieldsets.append((_("APIs"), {"fields": ["allowed_scopes"]}))
        advanced = ["grant_types"]
        if kind == Kind.WEB:
            # Public apps always use PKCE; machine-to-machine apps have no code to protect.
            advanced.append("require_pkce")
        advanced += [
            "algorithm",
            "access_token_format",
            "access_token_algorithm",
            "may_introspect",
            "rate_limit",
        ]
        if kind != Kind.NATIVE:
            # RFC 8693: only a client that authenticates may exchange tokens.
            advanced += ["token_exchange_apis", "new_client_secret"]
        advanced.append("user")
        fieldsets.append(
            (
                "Advanced",
                {
                    "fields": [*advanced],
                    "classes": ["collapse"],
                    "description": _(
                        "The defaults suit this kind of app; change them when its developer asks."
                    ),
                },
            )
        )
        return fieldsets

    def get_form(
        self, request: HttpRequest, obj: Client | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Client]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The generated class shares its declared fields with ClientAdminForm: change copies only.
        fields = form.base_fields = {name: copy.deepcopy(field) for name, field in form.base_fields.items()}
        if obj is None:
            # The kind was chosen on the page before; it shows above the form.
            fields["kind"].widget = fields["kind"].hidden_widget()
            if "new_client_secret" in fields:
                # A new app has no secret to keep.
                fields["new_client_secret"].help_text = _(
                    "Leave blank and Porchlight makes a strong secret, shown once after saving. "
                    "A secret you type must be at least 32 random characters."
                )
        owner = fields.get("user")
        if isinstance(owner, forms.ModelChoiceField):
            # The chosen owner shows by name, as the search box's answers do.
            owner.label_from_instance = person_label  # type: ignore[method-assign,assignment]
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        initial = super().get_changeform_initial_data(request)
        kind = self._kind(request, None)
        return {"kind": kind, "grant_types": Kind.DEFAULT_GRANT_TYPES[kind], **initial}

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "GET" and request.GET.get("kind") not in Kind.LABELS:
            if not self.has_add_permission(request):
                raise PermissionDenied
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Add an app"),
                "subtitle": _("What kind of app is it?"),
                "kinds": [(kind, Kind.LABELS[kind], Kind.HELP[kind]) for kind in Kind.LABELS],
            }
            return TemplateResponse(request, "admin/oidc_provider/client/choose_kind.html", context)
        extra_context = {**(extra_context or {}), "kind_label": Kind.LABELS[self._kind(request, None)]}
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Client, form: ClientAdminForm, change: bool) -> None:
        typed = form.cleaned_data.get("new_client_secret")
        obj.new_secret = None
        if obj.client_type == Client.CLIENT_PUBLIC:
            obj.client_secret = ""
        elif typed or not change or not obj.client_secret:
            # A new app (DOT's model default is a cleartext secret) or one that just became
            # confidential gets a generated secret, shown once.
            # The row is written once, by super().save_model below.
            secret = client_secret_set(client=obj, secret=typed or None, actor=request.user, save=False)
            # A typed secret is not echoed back: staff already know it.
            obj.new_secret = None if typed else secret
        super().save_model(request, obj, form, change)
        if change:
            changed = [field for field in form.changed_data if field != "new_client_secret"]
            if changed:
                client_change_record(client=obj, changed=changed, actor=request.user)
        else:
            client_create_record(client=obj, actor=request.user)

    def response_add(
        self, request: HttpRequest, obj: Client, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        messages.success(request, gettext("The app “%(name)s” was added.") % {"name": obj.name})
        return self._handover_next(request, [obj], title=gettext("%(name)s is ready") % {"name": obj.name})

    def response_change(self, request: HttpRequest, obj: Client) -> HttpResponse:
        if obj.new_secret:
            messages.success(
                request, gettext("The app “%(name)s” was changed and has a new secret.") % {"name": obj.name}
            )
            return self._handover_next(
                request, [obj], title=gettext("New secret for %(name)s") % {"name": obj.name}
            )
        return super().response_change(request, obj)

    def delete_model(self, request: HttpRequest, obj: Client) -> None:
        client_delete(client=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        for client in queryset:
            client_delete(client=client, actor=request.user)

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "new-settings/",
                self.admin_site.admin_view(self.new_settings_view),
                name="oidc_provider_client_new_settings",
            ),
            path(
                "<path:object_id>/handover/",
                self.admin_site.admin_view(self.handover_view),
                name="oidc_provider_client_handover",
            ),
            path(
                "<path:object_id>/reset-secret/",
                self.admin_site.admin_view(self.reset_secret_view),
                name="oidc_provider_client_reset_secret",
            ),
        ]
        return urls + super().get_urls()

    def _client_or_404(self, request: HttpRequest, object_id: str) -> Client:
        client = self.get_object(request, object_id)
        if client is None:
            raise Http404("No such app.")
        if not self.has_view_or_change_permission(request, client):
            raise PermissionDenied
        return client

    def handover_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show what to hand the app's developer (no secret: it was shown once)."""
        client = self._client_or_404(request, object_id)
        return self._handover(
            request, [client], title=gettext("Settings for %(name)s") % {"name": client.name}
        )

    def new_settings_view(self, request: HttpRequest) -> HttpResponse:
        """Show the apps just made or given a new secret, with the secret: once, then never again."""
        pending = request.session.pop(HANDOVER_SESSION_KEY, None)
        if not isinstance(pending, dict) or not pending.get("secrets"):
            messages.info(
                request,
                gettext(
                    "A secret is shown only once, on the page after it is made. "
                    "If it was not copied, reset it to get a new one."
                ),
            )
            return redirect(reverse("admin:oidc_provider_client_changelist"))
        secrets: dict[str, str] = pending["secrets"]
        clients = []
        for pk, secret in secrets.items():
            client = self.get_object(request, pk)
            if client is not None and self.has_view_or_change_permission(request, client):
                client.new_secret = secret or None
                clients.append(client)
        if not clients:
            return redirect(reverse("admin:oidc_provider_client_changelist"))
        return self._handover(request, clients, title=str(pending.get("title", "")))

    def reset_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask, then give the client a new secret and show it once."""
        client = self._client_or_404(request, object_id)
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        if client.client_type != Client.CLIENT_CONFIDENTIAL:
            messages.error(request, _("This kind of app cannot keep a secret, so it has none to reset."))
            return self._redirect_to(client)
        if request.method == "POST":
            client.new_secret = client_secret_set(client=client, actor=request.user)
            return self._handover_next(
                request, [client], title=gettext("New secret for %(name)s") % {"name": client.name}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": client,
            "title": gettext("Reset the secret of %(name)s?") % {"name": client.name},
        }
        return TemplateResponse(request, "admin/oidc_provider/client/reset_secret.html", context)

    def _redirect_to(self, client: Client) -> HttpResponse:
        return redirect(reverse("admin:oidc_provider_client_change", args=[client.pk]))

    def _handover_next(self, request: HttpRequest, clients: list[Client], *, title: str) -> HttpResponse:
        """Keep the new secrets for the next page alone, and send the browser there (POST, redirect, GET)."""
        request.session[HANDOVER_SESSION_KEY] = {
            "title": title,
            "secrets": {str(client.pk): client.new_secret or "" for client in clients},
        }
        return redirect(reverse("admin:oidc_provider_client_new_settings"))

    def _handover(self, request: HttpRequest, clients: list[Client], *, title: str) -> HttpResponse:
        urls = provider_urls()
        panels = [handover_panel(client, number, urls) for number, client in enumerate(clients, 1)]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "panels": panels,
        }
        return TemplateResponse(request, "admin/oidc_provider/client/handover.html", context)

    @admin.display(description=_("registration access token"))
    def registration_access(self, obj: Client) -> str:
        # RFC 7592: whether the app can still manage its own registration; never the token.
        registration = ClientRegistration.objects.filter(client=obj).first()
        if registration is None:
            return gettext("None: staff registered this app")
        if registration.access_token_hash is None:
            return gettext("Revoked: the app can no longer read, change or delete its registration")
        issued = registration.access_token_issued
        if issued is None:
            return gettext("Live: the app can read, change and delete its registration")
        return gettext(
            "Live (issued %(issued)s UTC): the app can read, change and delete its registration"
        ) % {"issued": f"{issued:%Y-%m-%d %H:%M}"}

    # Staff who may only view clients see neither client action (Django offers an action
    # without ``permissions`` to anyone who can open the list).
    @admin.action(
        description=_("Revoke the registration access token (the app can no longer manage itself)"),
        permissions=["change"],
    )
    def revoke_registration_access_token(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        revoked = registration_access_tokens_revoke(clients=queryset, actor=request.user)
        if revoked:
            messages.success(
                request,
                ngettext(
                    "Revoked %(count)d registration access token.",
                    "Revoked %(count)d registration access tokens.",
                    revoked,
                )
                % {"count": revoked},
            )
        else:
            messages.warning(request, gettext("None of these apps has a live registration access token."))

    @admin.action(description=_("Reset the apps' client secrets (each shown once)"), permissions=["change"])
    def reset_secret(self, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse | None:
        clients = list(queryset.filter(client_type=Client.CLIENT_CONFIDENTIAL))
        if not clients:
            messages.error(
                request, gettext("None of these apps can keep a secret, so none has one to reset.")
            )
            return None
        for client in clients:
            client.new_secret = client_secret_set(client=client, actor=request.user)
        return self._handover_next(request, clients, title=gettext("New client secrets"))


def _audit_token_revoke(request: HttpRequest, token: AccessToken | RefreshToken, kind: str) -> None:
    client = token.application
    # DOT's access token column allows no client; Porchlight issues none without one.
    assert client is not None
    audit_record(
        action=Action.TOKEN_REVOKE,
        target=token.user or client,
        actor=request.user,
        detail={"token": kind, "id": token.pk, "client_id": client.client_id, "reason": "admin"},
        request=request,
    )


_Token = TypeVar("_Token", bound=models.Model)


class TokenAdmin(admin.ModelAdmin[_Token]):
    list_display: tuple[str, ...] = ("id", "user", "application", "scope", "expires", "created")
    list_select_related = ("user", "application")
    list_filter: ClassVar[tuple[str | tuple[str, type[admin.FieldListFilter]], ...]] = ("application",)
    search_fields = ("user__username", "user__email", "application__name", "application__client_id")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _Token | None = None) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin[AccessToken]):
    exclude = ("token", "token_checksum")
    actions = ["revoke"]

    @admin.action(description=_("Revoke selected access tokens (and their refresh tokens)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        count = 0
        for token in queryset.select_related("user", "application"):
            _audit_token_revoke(request, token, "access token")
            revoke_access_token(token)
            count += 1
        messages.success(
            request,
            ngettext("Revoked %(count)d access token.", "Revoked %(count)d access tokens.", count)
            % {"count": count},
        )


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin[RefreshToken]):
    list_display = ("id", "user", "application", "created", "revoked")
    list_filter = ("application", ("revoked", admin.EmptyFieldListFilter))
    exclude = ("token", "token_checksum")
    actions = ["revoke"]

    @admin.action(description=_("Revoke selected refresh tokens (and their access tokens)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[RefreshToken]) -> None:
        count = 0
        for token in queryset.filter(revoked__isnull=True).select_related("user", "application"):
            _audit_token_revoke(request, token, "refresh token")
            token.revoke()
            count += 1
        messages.success(
            request,
            ngettext("Revoked %(count)d refresh token.", "Revoked %(count)d refresh tokens.", count)
            % {"count": count},
        )


@admin.register(IDToken)
class IDTokenAdmin(TokenAdmin[IDToken]):
    list_display = ("jti", "user", "application", "scope", "expires", "created")


@admin.register(Grant)
class GrantAdmin(TokenAdmin[Grant]):
    list_display = ("id", "user", "application", "scope", "expires", "created")
    exclude = ("code", "code_challenge", "nonce")


@admin.register(DeviceGrant)
class DeviceGrantAdmin(admin.ModelAdmin[DeviceGrant]):
    """Device authorizations (RFC 8628): who allowed which device app, and whether it got its tokens."""

    list_display = ("id", "client_id", "user", "status", "scope", "created", "expires", "redeemed_at")
    list_select_related = ("user",)
    list_filter = ("status", ("redeemed_at", admin.EmptyFieldListFilter))
    search_fields = ("client_id", "user__username", "user__email")
    date_hierarchy = "created"
    # The device code (stored hashed) is a credential until redeemed: never shown.
    fields = (
        "client_id",
        "user",
        "status",
        "scope",
        "interval",
        "created",
        "expires",
        "polled_at",
        "redeemed_at",
        "auth_time",
        "amr",
        "acr",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DeviceGrant | None = None) -> bool:
        return False


def key_usage() -> list[dict[str, Any]]:
    """Return, per key algorithm, the key signing now and what it signs: ID tokens, access tokens."""
    id_tokens = dict(Client.objects.values_list("algorithm").annotate(count=Count("pk")))
    access_tokens = dict(
        Client.objects.filter(access_token_format=Client.AccessTokenFormat.JWT)
        .values_list("access_token_algorithm")
        .annotate(count=Count("pk"))
    )
    apis = dict(Api.objects.values_list("algorithm").annotate(count=Count("pk")))
    active = {key.algorithm: key for key in SigningKey.objects.filter(state=SigningKey.State.ACTIVE)}
    return [
        {
            "algorithm": algorithm,
            "key": active.get(algorithm),
            "is_default": algorithm == Algorithm.RS256,
            "id_token_apps": id_tokens.get(algorithm, 0),
            "access_token_apps": access_tokens.get(algorithm, 0),
            "apis": apis.get(algorithm, 0),
        }
        for algorithm in KEY_ALGORITHMS
    ]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin[SigningKey]):
    list_display = ("algorithm", "key_id", "state", "created_on", "activated_on", "retired_on")
    list_filter = ("algorithm", "state")
    fields = ("algorithm", "kid", "state", "created", "activated_at", "retired_at")
    readonly_fields = fields
    actions = ["rotate_now", "retire"]
    change_list_template = "admin/oidc_provider/signingkey/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SigningKey | None = None) -> bool:
        return False

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        """Rotating and retiring keys takes the model's change permission (rows are never edited)."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.display(description=_("key ID"), ordering="kid")
    def key_id(self, obj: SigningKey) -> str:
        return format_html('<code title="{}">{}</code>', obj.kid, shorten(obj.kid, 16))

    @admin.display(description=_("created"), ordering="created")
    def created_on(self, obj: SigningKey) -> str:
        return short_date(obj.created)

    @admin.display(description=_("signing since"), ordering="activated_at")
    def activated_on(self, obj: SigningKey) -> str:
        return short_date(obj.activated_at)

    @admin.display(description=_("retired"), ordering="retired_at")
    def retired_on(self, obj: SigningKey) -> str:
        return short_date(obj.retired_at)

    def get_urls(self) -> list[URLPattern]:
        rotate = path(
            "rotate/",
            self.admin_site.admin_view(self.rotate_view),
            name="oidc_provider_signingkey_rotate",
        )
        return [rotate, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {
            "key_usage": key_usage(),
            "may_rotate": self.has_rotate_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def rotate_view(self, request: HttpRequest) -> HttpResponse:
        """Ask, then give every algorithm a new signing key at once (as ``rotatekeys --force``)."""
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            steps = keys_rotate(force=True, actor=request.user)
            messages.success(request, "; ".join(str(step) for step in steps) or gettext("Nothing to do."))
            return redirect(reverse("admin:oidc_provider_signingkey_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Rotate every signing key now?"),
            "key_usage": key_usage(),
        }
        return TemplateResponse(request, "admin/oidc_provider/signingkey/rotate.html", context)

    @admin.action(
        description=_("Rotate now: a new key signs for these keys' algorithms"), permissions=["rotate"]
    )
    def rotate_now(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        algorithms = sorted(set(queryset.values_list("algorithm", flat=True)))
        steps = keys_rotate(force=True, algorithms=algorithms, actor=request.user)
        messages.success(request, "; ".join(str(step) for step in steps) or gettext("Nothing to do."))

    @admin.action(
        description=_("Retire: stop signing with these keys (still published until their tokens expire)"),
        permissions=["rotate"],
    )
    def retire(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        steps = [step for key in queryset for step in key_retire(key=key, actor=request.user)]
        messages.success(request, "; ".join(str(step) for step in steps) or gettext("Nothing to do."))


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin[Consent]):
    list_display = ("user", "client", "scope_list", "created", "updated")
    list_select_related = ("user", "client")
    list_filter = ("client",)
    search_fields = ("user__username", "user__email", "client__name", "client__client_id")
    fields = ("user", "client", "scopes", "claims", "created", "updated")
    readonly_fields = fields
    date_hierarchy = "updated"
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Only the user can give consent, on the consent page.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Consent | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Any, str, str] | None]:
        # Deleting rows would leave the client's tokens alive; "revoke" removes both.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Consent) -> None:
        consent_revoke(user=obj.user, client=obj.client, actor=request.user, request=request)

    @admin.display(description=_("granted scopes"))
    def scope_list(self, obj: Consent) -> str:
        return " ".join(obj.scopes)

    @admin.action(description=_("Revoke selected consents (and the clients' tokens)"), permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Consent]) -> None:
        count = 0
        for consent in queryset.select_related("user", "client"):
            consent_revoke(user=consent.user, client=consent.client, actor=request.user, request=request)
            count += 1
        messages.success(
            request,
            ngettext("Revoked %(count)d consent.", "Revoked %(count)d consents.", count) % {"count": count},
        )


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(admin.ModelAdmin[RegistrationToken]):
    """Initial access tokens for dynamic client registration (RFC 7591 §3); the value is shown once."""

    list_display = ("label", "expires", "uses", "max_uses", "created_by", "created")
    list_select_related = ("created_by",)
    search_fields = ("label",)
    readonly_fields = ("uses", "created_by", "created")

    def get_fields(self, request: HttpRequest, obj: RegistrationToken | None = None) -> tuple[str, ...]:
        return ("label", "expires", "max_uses", *(self.readonly_fields if obj else ()))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"expires": timezone.now() + timedelta(days=7), **super().get_changeform_initial_data(request)}

    def save_model(
        self,
        request: HttpRequest,
        obj: RegistrationToken,
        form: forms.ModelForm[RegistrationToken],
        change: bool,
    ) -> None:
        if change:
            # Changing the expiry (to now, say) is how a token is withdrawn early.
            super().save_model(request, obj, form, change)
            return
        staff = request.user
        assert staff.is_authenticated  # The admin serves signed-in staff only.
        token, value = registration_token_create(
            label=obj.label, expires=obj.expires, max_uses=obj.max_uses, created_by=staff
        )
        obj.pk, obj.token_hash, obj.created, obj.created_by = (
            token.pk,
            token.token_hash,
            token.created,
            staff,
        )
        obj._state.adding = False
        obj.new_value = value

    def response_add(
        self, request: HttpRequest, obj: RegistrationToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Shown in this response only: a message would keep it in a cookie until displayed.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": obj,
            "value": obj.new_value,
        }
        context["title"] = _("Initial access token for %(label)s") % {"label": obj.label}
        return TemplateResponse(request, "admin/oidc_provider/registrationtoken/created.html", context)


# --- the user page: the apps a person allowed and the tokens they hold ------------------------


def _user_apps_context(user: User) -> dict[str, Any]:
    consents = Consent.objects.filter(user=user).select_related("client").order_by("client__name")
    refresh_tokens = [
        token
        for token in RefreshToken.objects.filter(user=user, revoked__isnull=True)
        .select_related("application")
        .order_by("-created")
        if refresh_token_alive(token)
    ]
    access_tokens = AccessToken.objects.filter(user=user, expires__gt=timezone.now()).count()
    return {
        "consents": list(consents),
        "refresh_tokens": refresh_tokens,
        "access_tokens": access_tokens,
        "search": user.get_username(),
    }


def _user_tokens_revoke(request: HttpRequest, user: User) -> str:
    count = user_tokens_revoke_all(user=user, actor=request.user)
    return f"Revoked {count} token(s) of {user.get_username()}: every app must ask them to sign in again."


def _user_consent_revoke(request: HttpRequest, user: User) -> str:
    consent_id = request.POST.get("consent", "")
    consent = (
        Consent.objects.filter(user=user, pk=consent_id).select_related("client").first()
        if consent_id.isdigit()
        else None
    )
    if consent is None:
        raise ValidationError(_("That consent no longer exists."))
    consent_revoke(user=user, client=consent.client, actor=request.user, request=request)
    return f"{consent.client.name} can no longer use {user.get_username()}’s account; its tokens are revoked."


USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_apps.html",
        context=_user_apps_context,
        actions={"tokens_revoke": _user_tokens_revoke, "consent_revoke": _user_consent_revoke},
        order=30,
    )
)


@admin.register(LogoutDelivery)
class LogoutDeliveryAdmin(admin.ModelAdmin[LogoutDelivery]):
    """Back-channel logout tokens owed to apps: pending, delivered or failed, with the last error."""

    list_display = ("client", "state", "attempts", "created", "next_attempt", "finished", "last_error")
    list_filter = ("state", "client")
    search_fields = ("client__name", "client__client_id", "sid", "subject")
    fields = (
        "client",
        "uri",
        "sid",
        "subject",
        "reason",
        "state",
        "attempts",
        "created",
        "next_attempt",
        "finished",
        "last_error",
    )
    readonly_fields = fields
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LogoutDelivery | None = None) -> bool:
        return False

    @admin.action(description=_("Send the selected failed deliveries again"), permissions=["view"])
    def retry(self, request: HttpRequest, queryset: QuerySet[LogoutDelivery]) -> None:
        retried = sum(logout_delivery_retry(delivery=d, actor=request.user) for d in queryset)
        messages.success(
            request,
            ngettext(
                "Queued %(count)d failed delivery again.",
                "Queued %(count)d failed deliveries again.",
                retried,
            )
            % {"count": retried},
        )


# --- APIs, their scopes and roles (apis.py; docs/apis.md) ---------------------------------------


class ApiScopeInline(admin.TabularInline[ApiScope, Api]):
    model = ApiScope
    fields = ("name", "description")
    extra = 1


class ApiRoleInline(admin.TabularInline[Role, Api]):
    model = Role
    fk_name = "api"
    fields = ("name", "description")
    extra = 0
    verbose_name = _("role")
    verbose_name_plural = _("roles (give them to people and groups under Roles)")


@admin.register(Api)
class ApiAdmin(admin.ModelAdmin[Api]):
    form = ApiAdminForm
    list_display = ("name", "identifier", "format", "signed_with", "token_lifetime", "scope_list")
    search_fields = ("name", "identifier", "scopes__name")
    readonly_fields = ("created", "updated")
    inlines = [ApiScopeInline, ApiRoleInline]

    # Short headers and values: the form explains each choice; the list only has to tell APIs apart.
    @admin.display(description=_("signed with"), ordering="algorithm")
    def signed_with(self, obj: Api) -> str:
        return obj.algorithm or "—"

    @admin.display(description=_("token lifetime"), ordering="lifetime")
    def token_lifetime(self, obj: Api) -> StrOrPromise:
        return _("%(seconds)s s") % {"seconds": obj.lifetime} if obj.lifetime else _("default")

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: Api) -> str:
        return " ".join(scope.name for scope in obj.scopes.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[Api]:
        return super().get_queryset(request).prefetch_related("scopes")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Recorded once the scopes and roles below the API are saved too.
        super().save_related(request, form, formsets, change)
        audit_record(
            action=Action.API_CHANGE if change else Action.API_CREATE,
            target=form.instance,
            actor=request.user,
            detail=api_settings(form.instance),
        )

    def delete_model(self, request: HttpRequest, obj: Api) -> None:
        api_delete(api=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Api]) -> None:
        for api in queryset:
            api_delete(api=api, actor=request.user)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin[Role]):
    list_display = ("name", "api", "client", "description")
    list_filter = ("api", "client")
    search_fields = ("name", "description", "users__username", "groups__name")
    filter_horizontal = ("users", "groups")
    fields = ("name", "description", "api", "client", "users", "groups")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).select_related("api", "client")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        role_change_record(role=form.instance, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        audit_record(action=Action.ROLE_DELETE, target=obj, actor=request.user, detail=role_settings(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        for role in queryset:
            self.delete_model(request, role)


# --- claims staff define (custom_claims.py, docs/claims.md) --------------------------------------


class IdentityScopeForm(forms.ModelForm[IdentityScope]):
    class Meta:
        model = IdentityScope
        fields = ("name", "description")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            # The model's own checks run after this, on the instance the form fills.
            identity_scope_validate(IdentityScope(name=data.get("name", "")), fields=False)
        return data


@admin.register(IdentityScope)
class IdentityScopeAdmin(admin.ModelAdmin[IdentityScope]):
    form = IdentityScopeForm
    list_display = ("name", "description")
    search_fields = ("name",)


class ClaimDefinitionForm(forms.ModelForm[ClaimDefinition]):
    class Meta:
        model = ClaimDefinition
        fields = (
            "name",
            "label",
            "description",
            "type",
            "scope",
            "user_editable",
            "in_id_token",
            "in_userinfo",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            # The model's own checks run after this, on the instance the form fills.
            fields = {name: data[name] for name in ("name", "type", "scope") if name in data}
            claim_definition_validate(ClaimDefinition(**fields), fields=False)
        return data


@admin.register(ClaimDefinition)
class ClaimDefinitionAdmin(admin.ModelAdmin[ClaimDefinition]):
    """Claims of your own. Deleting one stops its release; the users' values stay (in their data export)."""

    form = ClaimDefinitionForm
    list_display = ("name", "label", "type", "scope", "user_editable", "in_id_token", "in_userinfo")
    list_filter = ("type", "scope", "user_editable")
    search_fields = ("name", "label")
