"""Admin for clients, grants, tokens, consents and signing keys. Secrets and keys are never displayed."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import revoke_access_token

from .consent import consent_revoke
from .forms import ClientAdminForm
from .models import (
    AccessToken,
    Client,
    Consent,
    DeviceGrant,
    Grant,
    IDToken,
    RefreshToken,
    RegistrationToken,
    SigningKey,
)
from .registration import registration_token_create
from .rotation import key_retire, keys_rotate
from .services import client_secret_reset

# DOT registers its own admin classes for whatever models are swapped in; ours replace them.
for _model in (Client, AccessToken, RefreshToken, IDToken, Grant, DeviceGrant):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientAdminForm
    list_display = (
        "name",
        "client_id",
        "client_type",
        "grant_types",
        "skip_authorization",
        "algorithm",
        "created",
    )
    list_filter = ("client_type", "skip_authorization", "algorithm")
    search_fields = ("name", "client_id")
    readonly_fields = ("client_id", "created", "updated")
    actions = ["reset_secret"]
    raw_id_fields = ("user",)

    def get_fields(self, request, obj=None):
        fields = list(ClientAdminForm.Meta.fields) + ["new_client_secret"]
        return (["client_id"] if obj else []) + fields

    def save_model(self, request, obj, form, change):
        typed = form.cleaned_data.get("new_client_secret")
        shown = None
        if obj.client_type == Client.CLIENT_PUBLIC:
            obj.client_secret = ""
        elif typed:
            obj.client_secret = typed
        elif not change or not obj.client_secret:
            shown = obj.client_secret = generate_client_secret()
        obj.hash_client_secret = True
        super().save_model(request, obj, form, change)
        if shown:
            messages.warning(
                request,
                f"Client secret for {obj.name or obj.client_id}: {shown} "
                "(copy it now: it is not shown again).",
            )

    @admin.action(description="Reset the client secret (shown once)")
    def reset_secret(self, request, queryset):
        for client in queryset.filter(client_type=Client.CLIENT_CONFIDENTIAL):
            secret = client_secret_reset(client=client)
            messages.warning(
                request, f"New secret for {client.name or client.client_id}: {secret} — copy it now."
            )


class TokenAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "application", "scope", "expires", "created")
    list_select_related = ("user", "application")
    list_filter = ("application",)
    search_fields = ("user__username", "user__email", "application__name", "application__client_id")
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    exclude = ("token", "token_checksum")
    actions = ["revoke"]

    @admin.action(description="Revoke selected access tokens (and their refresh tokens)")
    def revoke(self, request, queryset):
        count = 0
        for token in queryset:
            revoke_access_token(token)
            count += 1
        messages.success(request, f"Revoked {count} access token(s).")


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ("id", "user", "application", "created", "revoked")
    list_filter = ("application", ("revoked", admin.EmptyFieldListFilter))
    exclude = ("token", "token_checksum")
    actions = ["revoke"]

    @admin.action(description="Revoke selected refresh tokens (and their access tokens)")
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked__isnull=True):
            token.revoke()
            count += 1
        messages.success(request, f"Revoked {count} refresh token(s).")


@admin.register(IDToken)
class IDTokenAdmin(TokenAdmin):
    list_display = ("jti", "user", "application", "scope", "expires", "created")


@admin.register(Grant)
class GrantAdmin(TokenAdmin):
    list_display = ("id", "user", "application", "scope", "expires", "created")
    exclude = ("code", "code_challenge", "nonce")


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("algorithm", "kid", "state", "created", "activated_at", "retired_at")
    list_filter = ("algorithm", "state")
    fields = ("algorithm", "kid", "state", "created", "activated_at", "retired_at")
    readonly_fields = fields
    actions = ["rotate_now", "retire"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Rotate now: a new key signs for these keys' algorithms")
    def rotate_now(self, request, queryset):
        algorithms = sorted(set(queryset.values_list("algorithm", flat=True)))
        steps = keys_rotate(force=True, algorithms=algorithms, actor=request.user)
        messages.success(request, "; ".join(str(step) for step in steps) or "Nothing to do.")

    @admin.action(
        description="Retire: stop signing with these keys (still published until their tokens expire)"
    )
    def retire(self, request, queryset):
        steps = [step for key in queryset for step in key_retire(key=key, actor=request.user)]
        messages.success(request, "; ".join(str(step) for step in steps) or "Nothing to do.")


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "client", "scope_list", "created", "updated")
    list_select_related = ("user", "client")
    list_filter = ("client",)
    search_fields = ("user__username", "user__email", "client__name", "client__client_id")
    fields = ("user", "client", "scopes", "created", "updated")
    readonly_fields = fields
    date_hierarchy = "updated"
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Only the user can give consent, on the consent page.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Deleting rows would leave the client's tokens alive; "revoke" removes both.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        consent_revoke(user=obj.user, client=obj.client)

    @admin.display(description="granted scopes")
    def scope_list(self, obj):
        return " ".join(obj.scopes)

    @admin.action(description="Revoke selected consents (and the clients' tokens)", permissions=["delete"])
    def revoke(self, request, queryset):
        count = 0
        for consent in queryset.select_related("user", "client"):
            consent_revoke(user=consent.user, client=consent.client)
            count += 1
        messages.success(request, f"Revoked {count} consent(s).")


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(admin.ModelAdmin):
    """Initial access tokens for dynamic client registration (RFC 7591 §3); the value is shown once."""

    list_display = ("label", "expires", "uses", "max_uses", "created_by", "created")
    list_select_related = ("created_by",)
    search_fields = ("label",)
    readonly_fields = ("uses", "created_by", "created")

    def get_fields(self, request, obj=None):
        return ["label", "expires", "max_uses"] + (list(self.readonly_fields) if obj else [])

    def get_changeform_initial_data(self, request):
        return {"expires": timezone.now() + timedelta(days=7), **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if change:
            # Changing the expiry (to now, say) is how a token is withdrawn early.
            super().save_model(request, obj, form, change)
            return
        token, value = registration_token_create(
            label=obj.label, expires=obj.expires, max_uses=obj.max_uses, created_by=request.user
        )
        obj.pk, obj.token_hash, obj.created, obj.created_by = (
            token.pk,
            token.token_hash,
            token.created,
            request.user,
        )
        obj._state.adding = False
        messages.warning(
            request, f"Initial access token for {obj.label}: {value} (copy it now: it is not shown again)."
        )
