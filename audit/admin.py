"""Read-only audit log in the admin: searchable and filterable, never showing a secret (none is stored)."""

from django.contrib import admin

from .models import AuditEvent


class ActorKindFilter(admin.SimpleListFilter):
    title = "actor kind"
    parameter_name = "actor_kind"

    def lookups(self, request, model_admin):
        return [("user", "A user"), ("system", "The system (commands, throttles, links)")]

    def queryset(self, request, queryset):
        if self.value() == "user":
            return queryset.filter(actor__isnull=False)
        if self.value() == "system":
            return queryset.filter(actor__isnull=True)
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created", "action", "target", "actor_label", "ip")
    list_filter = ("action", ActorKindFilter)
    search_fields = ("action", "target", "actor_label", "actor__username", "ip")
    date_hierarchy = "created"
    fields = ("created", "action", "target", "actor", "actor_label", "ip", "user_agent", "detail")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
