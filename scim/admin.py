"""Provisioning clients in the admin: made with their token shown once, listed, and revoked."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .models import ProvisioningClient
from .tokens import provisioning_client_create, provisioning_client_revoke


@admin.register(ProvisioningClient)
class ProvisioningClientAdmin(admin.ModelAdmin[ProvisioningClient]):
    """SCIM clients; the token's value is shown once, at creation, and never stored."""

    list_display = ("name", "created", "created_by", "last_used", "revoked")
    list_select_related = ("created_by",)
    list_filter = (("revoked", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    readonly_fields = ("key_id", "created", "created_by", "last_used", "revoked")
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ProvisioningClient | None = None) -> tuple[str, ...]:
        return ("name", *(self.readonly_fields if obj else ()))

    def get_readonly_fields(
        self, request: HttpRequest, obj: ProvisioningClient | None = None
    ) -> tuple[str, ...]:
        # A client is renamed by making a new one: its name is what the audit log calls it.
        return ("name", *self.readonly_fields) if obj else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: ProvisioningClient | None = None) -> bool:
        # Revoked, not deleted: the revocation is audited and the row says when it happened.
        return False

    def save_model(
        self,
        request: HttpRequest,
        obj: ProvisioningClient,
        form: forms.ModelForm[ProvisioningClient],
        change: bool,
    ) -> None:
        if change:
            return
        staff = request.user
        assert staff.is_authenticated  # The admin serves signed-in staff only.
        client, value = provisioning_client_create(name=obj.name, created_by=staff)  # type: ignore[arg-type]
        obj.pk, obj.key_id, obj.token_hash, obj.created, obj.created_by = (
            client.pk,
            client.key_id,
            client.token_hash,
            client.created,
            client.created_by,
        )
        obj._state.adding = False
        obj.new_value = value

    def response_add(
        self, request: HttpRequest, obj: ProvisioningClient, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Shown in this response only: a message would keep it in a cookie until displayed.
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "client": obj,
            "value": obj.new_value,
            "title": gettext("SCIM token for %(name)s") % {"name": obj.name},
            "base_url": settings.ISSUER + reverse("scim:users").removesuffix("Users"),
        }
        return TemplateResponse(request, "admin/scim/provisioningclient/created.html", context)

    @admin.action(description=_("Revoke the selected clients' tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ProvisioningClient]) -> None:
        staff = request.user
        assert staff.is_authenticated
        count = sum(provisioning_client_revoke(client=client, actor=staff) for client in queryset)  # type: ignore[arg-type]
        messages.success(
            request,
            ngettext("Revoked %(count)d SCIM token.", "Revoked %(count)d SCIM tokens.", count)
            % {"count": count},
        )
