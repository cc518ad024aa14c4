"""Branding every page, mail and error page shares (``{% site_name %}``, ``{% brand %}``, …).

Tags read the settings themselves, so mails and the 500 page (rendered without a request or
context processors) carry the same name as every other page.
"""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def site_name() -> str:
    """Return the service's name as people read it (PORCHLIGHT_SITE_NAME)."""
    return settings.SITE_NAME


@register.inclusion_tag("branding/head.html")
def branding_head() -> dict:
    """Render the accent colour (PORCHLIGHT_ACCENT_COLOR, checked to be a colour at start-up)."""
    return {"accent_color": settings.ACCENT_COLOR}


@register.inclusion_tag("branding/passkey_origin.html")
def passkey_origin_check() -> dict:
    """Render the script that hides passkey buttons, with a reason, where the page cannot use them."""
    origins = getattr(settings, "OTP_WEBAUTHN_ALLOWED_ORIGINS", None) or [""]
    return {"rp_id": getattr(settings, "OTP_WEBAUTHN_RP_ID", ""), "origin": origins[0]}


@register.inclusion_tag("branding/brand.html")
def brand() -> dict:
    """Render the logo (if any) and the name, as the header shows them."""
    return {"site_name": settings.SITE_NAME, "logo_url": settings.LOGO_URL}
