"""Admin for users and their OIDC claim fields, and for failed logins and lockouts."""

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import GroupSettings, LoginFailure, User
from .throttling import throttle_clear


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "email_verified", "is_active", "is_staff")
    list_filter = ("is_staff", "is_superuser", "is_active", "email_verified", "groups")
    search_fields = ("username", "email", "first_name", "last_name", "subject")
    readonly_fields = ("subject", "updated_at", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password", "subject")}),
        (_("Name"), {"fields": ("first_name", "middle_name", "last_name", "nickname", "preferred_username")}),
        (_("Contact"), {"fields": ("email", "email_verified", "phone_number", "phone_number_verified")}),
        (
            _("Profile"),
            {"fields": ("profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale")},
        ),
        (
            _("Address"),
            {
                "fields": (
                    "address_formatted",
                    "address_street_address",
                    "address_locality",
                    "address_region",
                    "address_postal_code",
                    "address_country",
                )
            },
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "updated_at")}),
    )


class LockedFilter(admin.SimpleListFilter):
    title = _("locked")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=timezone.now())
        if self.value() == "no":
            return queryset.exclude(locked_until__gt=timezone.now())
        return queryset


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Failed logins and lockouts: read-only; deleting a record (or "Clear selected") unlocks it."""

    list_display = ("key", "scope", "failures", "locked", "locked_until", "lockouts", "last_failure")
    list_filter = (LockedFilter, "scope")
    search_fields = ("key",)
    actions = ["clear_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # "Clear selected" does the same, with an audit record and a plain message.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, obj: LoginFailure) -> bool:
        return obj.locked_until is not None and obj.locked_until > timezone.now()

    def delete_model(self, request, obj):
        throttle_clear(records=LoginFailure.objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request, queryset):
        throttle_clear(records=queryset, actor=request.user)

    @admin.action(description=_("Clear selected (lift their lockouts now)"), permissions=["delete"])
    def clear_selected(self, request, queryset):
        count = throttle_clear(records=queryset, actor=request.user)
        messages.success(
            request, f"Cleared {count} record(s); those accounts and addresses can sign in again."
        )


class GroupSettingsInline(admin.StackedInline):
    model = GroupSettings
    can_delete = False
    verbose_name_plural = _("account policy")


# The group page carries its members' account policy (e.g. "require multi-factor authentication").
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    inlines = [GroupSettingsInline]
