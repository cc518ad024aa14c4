"""Admin for users' authenticator apps and recovery codes: see, rename, remove; never the secrets.

django-otp's own TOTP and static device apps, whose admins these replace, are not installed:
their devices store secrets in the clear (the accounts migration 0006 moved them here).
"""

from typing import TypedDict

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import WithAnnotations

from .models import RecoveryCodeDevice, TOTPAuthenticator


class DeviceAdmin(admin.ModelAdmin):
    list_display: tuple[str, ...] = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "user__email", "name")
    raw_id_fields = ("user",)
    readonly_fields = ("user", "created_at", "last_used_at")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")

    def has_add_permission(self, request):
        # A key or a code made here would have to be shown to staff; users make their own.
        return False


@admin.register(TOTPAuthenticator)
class TOTPAuthenticatorAdmin(DeviceAdmin):
    pass


class _Remaining(TypedDict):
    remaining_count: int


@admin.register(RecoveryCodeDevice)
class RecoveryCodeDeviceAdmin(DeviceAdmin):
    list_display = (*DeviceAdmin.list_display, "remaining")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(remaining_count=Count("codes"))

    @admin.display(description=_("unused codes"), ordering="remaining_count")
    # Quoted: django-stubs-ext's WithAnnotations cannot be subscripted at run time on Python 3.11.
    def remaining(self, obj: "WithAnnotations[RecoveryCodeDevice, _Remaining]") -> int:
        return obj.remaining_count
