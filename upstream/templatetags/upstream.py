"""The sign-in page's "Sign in with …" buttons and the account page's linked identities."""

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from ..models import LinkedIdentity, UpstreamProvider

register = template.Library()


@register.inclusion_tag("upstream/_buttons.html")
def upstream_buttons(next_url: str = "") -> dict:
    """Draw a button per enabled provider, each keeping ``next`` (a pending authorization request)."""
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return {
        "buttons": [
            (provider, reverse("upstream:start", args=[provider.slug]) + query)
            for provider in UpstreamProvider.objects.filter(enabled=True)
        ]
    }


@register.inclusion_tag("upstream/_linked.html", takes_context=True)
def linked_identities(context) -> dict:
    """Draw the account page's "Sign-in providers" section for the signed-in user."""
    user = context["request"].user
    identities = list(LinkedIdentity.objects.filter(user=user).select_related("provider"))
    linked = {identity.provider_id for identity in identities}
    return {
        "identities": identities,
        "available": [
            (
                provider,
                reverse("upstream:start", args=[provider.slug])
                + "?"
                + urlencode({"next": reverse("accounts:home")}),
            )
            for provider in UpstreamProvider.objects.filter(enabled=True).exclude(pk__in=linked)
        ],
        "csrf_token": context.get("csrf_token"),
    }
