"""Upstream providers in the admin (Security), and a user's linked identities on their page."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import encryption
from accounts.models import User
from accounts.user_page import USER_PAGE_SECTIONS, UserPageSection
from audit.actions import Action
from audit.services import audit_record

from .clients import redirect_uri
from .flows import identity_unlink
from .models import LinkedIdentity, UpstreamProvider


def _formfield(field: models.Field, **kwargs):
    # An address typed without a scheme is https (Django 6's default, said now).
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class UpstreamProviderForm(forms.ModelForm):
    # Write-only: the stored secret is never sent back to the page (STYLE: never display secrets).
    client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted. Leave empty to keep the one stored."),
    )

    class Meta:
        model = UpstreamProvider
        formfield_callback = _formfield
        fields = [
            "label",
            "slug",
            "icon",
            "enabled",
            "order",
            "kind",
            "discovery_url",
            "client_id",
            "scopes",
            "web_base_url",
            "api_base_url",
            "may_create_accounts",
            "allowed_domains",
            "claim_map",
            "group_claim",
            "group_map",
            "trust_mfa",
            "mfa_acr_values",
        ]

    def clean(self):
        cleaned = super().clean() or {}
        stored = bool(self.instance.pk and self.instance.client_secret_encrypted)
        if not cleaned.get("client_secret") and not stored:
            raise ValidationError(
                {"client_secret": gettext("The upstream gave this client a secret: enter it.")}
            )
        return cleaned


@admin.register(UpstreamProvider)
class UpstreamProviderAdmin(admin.ModelAdmin):
    form = UpstreamProviderForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("label", "slug", "kind", "enabled", "may_create_accounts", "trust_mfa", "linked")
    readonly_fields = ("redirect_uri", "backchannel_logout_uri")
    fieldsets = (
        (None, {"fields": ("label", "slug", "icon", "enabled", "order")}),
        (
            _("Connection"),
            {
                "fields": (
                    "kind",
                    "discovery_url",
                    "client_id",
                    "client_secret",
                    "scopes",
                    "redirect_uri",
                    "backchannel_logout_uri",
                    "web_base_url",
                    "api_base_url",
                )
            },
        ),
        (
            _("Accounts"),
            {"fields": ("may_create_accounts", "allowed_domains", "claim_map", "group_claim", "group_map")},
        ),
        (_("Second factor"), {"fields": ("trust_mfa", "mfa_acr_values")}),
    )

    @admin.display(description=_("linked accounts"))
    def linked(self, obj: UpstreamProvider) -> int:
        return obj.identities.count()

    @admin.display(description=_("redirect URI (register it at the upstream)"))
    def redirect_uri(self, obj: UpstreamProvider) -> str:
        return redirect_uri(obj) if obj.pk else gettext("(shown once saved)")

    @admin.display(description=_("back-channel logout URI (OpenID Connect)"))
    def backchannel_logout_uri(self, obj: UpstreamProvider) -> str:
        if not obj.pk or obj.kind != UpstreamProvider.Kind.OIDC:
            return "—"
        return redirect_uri(obj).removesuffix("callback/") + "backchannel-logout/"

    def save_model(self, request: HttpRequest, obj: UpstreamProvider, form, change: bool) -> None:
        secret = form.cleaned_data.get("client_secret")
        if secret:
            obj.client_secret_encrypted = encryption.encrypt(secret.encode())
        super().save_model(request, obj, form, change)
        changed = [name for name in form.changed_data if name != "client_secret"]
        if secret:
            changed.append("client_secret (replaced)")
        audit_record(
            action=Action.UPSTREAM_PROVIDER_CHANGE if change else Action.UPSTREAM_PROVIDER_CREATE,
            target=obj.slug,
            actor=request.user,
            detail={"slug": obj.slug, "fields": changed},
            request=request,
        )

    def delete_model(self, request: HttpRequest, obj: UpstreamProvider) -> None:
        audit_record(
            action=Action.UPSTREAM_PROVIDER_DELETE,
            target=obj.slug,
            actor=request.user,
            detail={"slug": obj.slug, "linked": obj.identities.count()},
            request=request,
        )
        super().delete_model(request, obj)


def _linked_context(user: User) -> dict:
    return {"identities": list(LinkedIdentity.objects.filter(user=user).select_related("provider"))}


def _identity_unlink(request: HttpRequest, user: User) -> str:
    identity_id = request.POST.get("identity", "")
    link = (
        LinkedIdentity.objects.filter(user=user, pk=identity_id).select_related("provider", "user").first()
        if identity_id.isdigit()
        else None
    )
    if link is None:
        raise ValidationError(gettext("That linked identity no longer exists."))
    assert isinstance(request.user, User)  # the admin opens only to signed-in staff
    identity_unlink(request, link=link, actor=request.user)
    return gettext("%(provider)s no longer signs %(username)s in.") % {
        "provider": link.provider.label,
        "username": user.get_username(),
    }


USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_upstream.html",
        context=_linked_context,
        actions={"upstream_unlink": _identity_unlink},
        order=22,
    )
)
