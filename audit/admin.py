"""Read-only audit log in the admin: searchable and filterable, never showing a secret (none is stored).

Each action shows in words (``actions.LABELS``) with its code beneath, and a target that is an app
or a person shows by name; the stored codes and labels, which exports and searches use, are untouched.
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import CharField, F, Model, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat, Trim
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ground.admin_columns import short_date

from .actions import action_label
from .models import AuditEvent


class ActorKindFilter(admin.SimpleListFilter):
    title = _("actor kind")
    parameter_name = "actor_kind"

    def lookups(self, request, model_admin):
        return [("user", _("A user")), ("system", _("The system (commands, throttles, links)"))]

    def queryset(self, request, queryset):
        if self.value() == "user":
            return queryset.filter(actor__isnull=False)
        if self.value() == "system":
            return queryset.filter(actor__isnull=True)
        return queryset


class ActionFilter(admin.SimpleListFilter):
    """The actions present in the log, by label; the code is the query value, so links stay greppable."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        present = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((code, action_label(code)) for code in present), key=lambda pair: pair[1].lower())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


def _name_of(model: type[Model], *name_fields: str) -> Subquery:
    """The name of the row an event is about, found by its primary key as text (how events keep it)."""
    rows = model._default_manager.annotate(pk_text=Cast("pk", CharField())).filter(
        pk_text=OuterRef("target_id")
    )
    parts: list[Any] = []
    for field in name_fields:
        parts += [field, Value(" ")]
    name = Trim(Concat(*parts[:-1], output_field=CharField())) if len(name_fields) > 1 else F(name_fields[0])
    return Subquery(rows.annotate(shown_name=name).values("shown_name")[:1])


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("when", "what", "about", "actor_label", "ip")
    list_filter = (ActionFilter, ActorKindFilter)
    search_fields = ("action", "target", "actor_label", "actor__username", "ip")
    date_hierarchy = "created"
    fields = (
        "created",
        "action_words",
        "action",
        "target_words",
        "actor",
        "actor_label",
        "ip",
        "user_agent",
        "detail",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        # The app's or person's name as it is now (the event keeps the id it was recorded with).
        client_model = apps.get_model(settings.OAUTH2_PROVIDER_APPLICATION_MODEL)
        return (
            super()
            .get_queryset(request)
            .annotate(
                client_name=_name_of(client_model, "name"),
                person_name=_name_of(get_user_model(), "first_name", "last_name"),
            )
        )

    @admin.display(description=_("when"), ordering="created")
    def when(self, obj: AuditEvent) -> str:
        return short_date(obj.created)

    @admin.display(description=_("action"), ordering="action")
    def what(self, obj: AuditEvent) -> str:
        return format_html('{}<br><code class="quiet">{}</code>', action_label(obj.action), obj.action)

    @admin.display(description=_("action"))
    def action_words(self, obj: AuditEvent) -> str:
        return action_label(obj.action)

    @admin.display(description=_("about"), ordering="target")
    def about(self, obj: AuditEvent) -> str:
        name = self._target_name(obj)
        if name and name != obj.target:
            # The stored label (a client_id, a username) stays beside the name: it is what logs carry.
            return format_html('{}<br><code class="quiet">{}</code>', name, obj.target)
        return obj.target

    @admin.display(description=_("target"))
    def target_words(self, obj: AuditEvent) -> str:
        name = self._target_name(obj)
        return f"{name} ({obj.target})" if name and name != obj.target else obj.target

    def _target_name(self, obj: AuditEvent) -> str:
        if obj.target_type == "client":
            return getattr(obj, "client_name", None) or ""
        if obj.target_type == "user":
            return getattr(obj, "person_name", None) or ""
        return ""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
