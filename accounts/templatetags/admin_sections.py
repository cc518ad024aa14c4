"""Breadcrumbs that name the admin index's sections (accounts/admin_site.py), not Django apps."""

from typing import Any

from django import template
from django.urls import reverse

from accounts.admin_site import section_of

register = template.Library()


@register.simple_tag
def admin_section(opts: Any) -> dict[str, Any]:
    """Return the section a model's pages sit in: its name, address and the model's name there."""
    section = section_of(opts.model)
    name = section.models.get(opts.label) or opts.verbose_name_plural
    return {
        "name": section.name,
        "url": reverse("admin:section", kwargs={"slug": section.slug}),
        "model_name": str(name)[:1].upper() + str(name)[1:],
    }
