"""A user's attributes beyond the standard claims: their kinds, stored values and form fields.

Which attributes exist, and which apps see them, is decided by staff in oidc_provider (its
``ClaimDefinition``), which accounts never imports: oidc_provider registers a source of
``Attribute`` descriptions here at start-up (``oidc_provider/receivers.py``), and the profile page
and the user admin draw their fields from it. Values live in ``User.attributes``, one JSON value
of the attribute's kind per name; an empty value is no key at all.
"""

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

# JSON numbers beyond ±(2**53 - 1) lose precision in many RP languages (RFC 8259 §6).
MAX_INTEGER = 2**53 - 1
MAX_TEXT_LENGTH = 1000
MAX_LIST_ITEMS = 100
FIELD_PREFIX = "attribute__"


class Kind(models.TextChoices):
    """What an attribute holds, and the JSON type apps receive it as."""

    STRING = "string", _("text (JSON string)")
    INTEGER = "integer", _("whole number (JSON number)")
    BOOLEAN = "boolean", _("yes or no (JSON true/false)")
    DATE = "date", _("date (JSON string, YYYY-MM-DD)")
    STRING_LIST = "string_list", _("list of texts (JSON array of strings)")


@dataclass(frozen=True)
class Attribute:
    """One attribute a user may have: its name (the key in ``User.attributes``), label and kind."""

    name: str
    label: str
    kind: str
    # Whether the user may change it on the profile page (staff always may, in the admin).
    editable: bool = False
    help_text: str = ""


# Each source returns the attributes defined now; read on every request, so order is free.
attribute_sources: list[Callable[[], Sequence[Attribute]]] = []


def attributes_defined() -> list[Attribute]:
    """Return every attribute the registered sources define."""
    return [attribute for source in attribute_sources for attribute in source()]


def field_name(name: str) -> str:
    """Return the form field name of the attribute ``name`` on the profile and admin pages."""
    return FIELD_PREFIX + name


def json_value(kind: str, value: Any) -> Any:
    """Return the stored ``value`` if it is a value of ``kind``, else None (never another type)."""
    if kind == Kind.STRING:
        return value if isinstance(value, str) and value else None
    if kind == Kind.INTEGER:
        # bool is an int to Python, never to JSON.
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == Kind.BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == Kind.DATE:
        if not isinstance(value, str):
            return None
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    if kind == Kind.STRING_LIST:
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return value
        return None
    return None


class StringListField(forms.CharField):
    """A list of texts typed one per line; blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(item) for item in value]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value: Any) -> None:
        if len(value) > MAX_LIST_ITEMS:
            raise forms.ValidationError(
                _("At most %(count)d lines."), code="max_items", params={"count": MAX_LIST_ITEMS}
            )
        if any(len(item) > MAX_TEXT_LENGTH for item in value):
            raise forms.ValidationError(
                _("Each line may have at most %(count)d characters."),
                code="max_length",
                params={"count": MAX_TEXT_LENGTH},
            )


def form_field(attribute: Attribute, *, disabled: bool = False) -> forms.Field:
    """Return a form field of the attribute's kind; every one may be left empty."""
    options: dict[str, Any] = {
        "label": attribute.label,
        "help_text": attribute.help_text,
        "required": False,
        "disabled": disabled,
    }
    if attribute.kind == Kind.INTEGER:
        return forms.IntegerField(min_value=-MAX_INTEGER, max_value=MAX_INTEGER, **options)
    if attribute.kind == Kind.BOOLEAN:
        # Django's select of Unknown / Yes / No: "unknown" is no value.
        return forms.NullBooleanField(**options)
    if attribute.kind == Kind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **options)
    if attribute.kind == Kind.STRING_LIST:
        return StringListField(**options)
    return forms.CharField(max_length=MAX_TEXT_LENGTH, **options)


def form_initial(attribute: Attribute, stored: Mapping[str, Any]) -> Any:
    """Return the form's initial value for the attribute from the user's stored ``attributes``."""
    value = json_value(attribute.kind, stored.get(attribute.name))
    if value is not None and attribute.kind == Kind.DATE:
        return datetime.date.fromisoformat(value)
    return value


def stored_value(attribute: Attribute, cleaned: Any) -> Any:
    """Return what to store for a form's cleaned value of the attribute; None for empty."""
    if cleaned is None or cleaned == "" or cleaned == []:
        return None
    if attribute.kind == Kind.DATE:
        return cleaned.isoformat()
    return cleaned


def attribute_fields_add(
    form: forms.BaseForm, stored: Mapping[str, Any], *, editable_only: bool = False
) -> list[str]:
    """Add a field per defined attribute to ``form``; return the names of the fields added.

    With ``editable_only`` (the profile page) the attributes the user may not change are shown
    disabled: Django then keeps their stored value, whatever is posted.
    """
    names = []
    for attribute in attributes_defined():
        name = field_name(attribute.name)
        form.fields[name] = form_field(attribute, disabled=editable_only and not attribute.editable)
        form.initial[name] = form_initial(attribute, stored)
        names.append(name)
    return names


def attributes_from_form(form: forms.BaseForm, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return the user's ``stored`` attributes updated with what ``form`` may change of them."""
    updated = dict(stored)
    for attribute in attributes_defined():
        name = field_name(attribute.name)
        field = form.fields.get(name)
        if field is None or field.disabled or name not in form.cleaned_data:
            continue
        value = stored_value(attribute, form.cleaned_data[name])
        if value is None:
            updated.pop(attribute.name, None)
        else:
            updated[attribute.name] = value
    return updated


def attribute_values(attributes: Iterable[Attribute], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return each attribute's stored value of its kind, leaving out those without one."""
    values = {
        attribute.name: json_value(attribute.kind, stored.get(attribute.name)) for attribute in attributes
    }
    return {name: value for name, value in values.items() if value is not None}


class AttributesForm(forms.Form):
    """Every defined attribute of one user, as staff edit them on the user's admin page."""

    def __init__(self, *args: Any, stored: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored
        attribute_fields_add(self, stored)

    def attributes(self) -> dict[str, Any]:
        """Return the user's attributes with this form's values (call once it is valid)."""
        return attributes_from_form(self, self.stored)
