"""``{% passkey_scripts "login" %}``: django-otp-webauthn's browser script, pointed at our endpoints."""

from django import template

from accounts.mfa.passkeys import ceremony_config

register = template.Library()


@register.inclusion_tag("accounts/mfa/_passkey_scripts.html", takes_context=True)
def passkey_scripts(context, purpose: str) -> dict:
    """Render the script for a ``purpose`` ceremony: "register", "verify" or "login"."""
    return {
        "config": ceremony_config(context["request"], purpose=purpose),
        "script": "otp_webauthn_register.js" if purpose == "register" else "otp_webauthn_auth.js",
    }
