"""The standard scopes and claims of OpenID Connect, and Porchlight's words for them.

Data only, so that models, validators and the claims path (claims.py) can all read it without
importing one another.
"""

from django.utils.translation import gettext_noop

# OIDC Core 1.0 §5.4.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
    # Not an OIDC Core scope: group membership for the apps' own roles (OIDC Core 1.0 §5.1.2
    # allows additional claims). The claim name is the one most RP libraries look for.
    "groups": ("groups",),
}

# The user field each claim is built from (claims._CLAIM_VALUE), for the profile page's "Seen by".
FIELD_CLAIMS: dict[str, str] = {
    "first_name": "given_name",
    "middle_name": "middle_name",
    "last_name": "family_name",
    "nickname": "nickname",
    "preferred_username": "preferred_username",
    "profile": "profile",
    "picture": "picture",
    "website": "website",
    "gender": "gender",
    "birthdate": "birthdate",
    "zoneinfo": "zoneinfo",
    "locale": "locale",
    "email": "email",
    "phone_number": "phone_number",
    "address_formatted": "address",
    "address_street_address": "address",
    "address_locality": "address",
    "address_region": "address",
    "address_postal_code": "address",
    "address_country": "address",
}

# What the consent page tells the user each scope shares, in plain words. Marked for translation
# and kept in English here; claims.scope_description() translates them when a page shows them.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "openid": gettext_noop("Sign you in and know it is you (an identifier unique to you)"),
    "profile": gettext_noop(
        "Your name, username, profile picture, website, gender, birthday, time zone and language"
    ),
    "email": gettext_noop("Your email address and whether it is verified"),
    "address": gettext_noop("Your postal address"),
    "phone": gettext_noop("Your phone number and whether it is verified"),
    "groups": gettext_noop("The names of the groups you belong to"),
    "offline_access": gettext_noop(
        "Stay connected when you are not using it (keeps access until you revoke it)"
    ),
}

# Protocol claims that ID tokens carry (OIDC Core 1.0 §2, §3.1.3.6; jti per RFC 7519 §4.1.7,
# sid per Front-/Back-Channel Logout), listed in claims_supported. Discovery 1.0 §3 asks for
# every claim the OP can supply, so each claim finalize_id_token writes must appear here.
ID_TOKEN_CLAIMS = (
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "acr",
    "azp",
    "at_hash",
    "sid",
    "jti",
)


# The standard claims one by one, in plain words, for a consent page that asks for them singly
# (the claims request parameter, OIDC Core 1.0 §5.5).
CLAIM_DESCRIPTIONS: dict[str, str] = {
    "name": gettext_noop("Your full name"),
    "family_name": gettext_noop("Your family name"),
    "given_name": gettext_noop("Your first name"),
    "middle_name": gettext_noop("Your middle name"),
    "nickname": gettext_noop("Your nickname"),
    "preferred_username": gettext_noop("Your username"),
    "profile": gettext_noop("The address of your profile page"),
    "picture": gettext_noop("Your profile picture"),
    "website": gettext_noop("Your website"),
    "gender": gettext_noop("Your gender"),
    "birthdate": gettext_noop("Your date of birth"),
    "zoneinfo": gettext_noop("Your time zone"),
    "locale": gettext_noop("Your language"),
    "updated_at": gettext_noop("When you last changed your profile"),
    "email": gettext_noop("Your email address"),
    "email_verified": gettext_noop("Whether your email address is verified"),
    "address": gettext_noop("Your postal address"),
    "phone_number": gettext_noop("Your phone number"),
    "phone_number_verified": gettext_noop("Whether your phone number is verified"),
    "groups": gettext_noop("The names of the groups you belong to"),
}
