"""Admin for users and their OIDC claim fields."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


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
