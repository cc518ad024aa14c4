"""Who may sign up, and what the sign-up page asks (``PORCHLIGHT_SIGNUP*`` settings)."""

from django.conf import settings

from ..forms import PROFILE_FIELDSETS

OFF, INVITE, OPEN = "off", "invite", "open"
# The profile fields staff may ask for on the sign-up page (the profile page's, but the address,
# which is always asked for).
SIGNUP_FIELD_CHOICES = tuple(
    name for _slug, _title, names in PROFILE_FIELDSETS for name in names if name != "email"
)


def signup_mode() -> str:
    """Return off, invite or open (PORCHLIGHT_SIGNUP)."""
    return settings.PORCHLIGHT["SIGNUP"]


def signup_open() -> bool:
    """Return whether anyone may create an account on the sign-up page."""
    return signup_mode() == OPEN


def signup_fields() -> list[str]:
    """Return the profile fields the sign-up page asks for (each required), in the profile's order."""
    chosen = set(settings.PORCHLIGHT["SIGNUP_FIELDS"])
    return [name for name in SIGNUP_FIELD_CHOICES if name in chosen]


def email_domains() -> list[str]:
    """Return the domains whose addresses may sign up; empty: any."""
    return settings.PORCHLIGHT["SIGNUP_EMAIL_DOMAINS"]


def email_domain_allowed(email: str) -> bool:
    """Return whether ``email`` is at a domain allowed to sign up (any, when none is listed)."""
    domains = email_domains()
    return not domains or email.rpartition("@")[2].lower() in domains


def terms_url() -> str:
    return settings.PORCHLIGHT["SIGNUP_TERMS_URL"]


def terms_version() -> str:
    """Return the version of the terms recorded with an acceptance: the one configured, else the URL."""
    return settings.PORCHLIGHT["SIGNUP_TERMS_VERSION"] or terms_url()


def review_required() -> bool:
    return settings.PORCHLIGHT["SIGNUP_REVIEW"]
