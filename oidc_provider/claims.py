"""Scopes and the claims they release: the one path used by ID tokens, UserInfo and discovery.

OIDC Core 1.0 §5.4 maps the standard scopes to standard claims (§5.1). ``sub`` is always
released with ``openid``. ``groups`` (the names of the user's groups) is Porchlight's own scope
and claim, offered only to clients staff allowed it (``Client.release_groups``, scopes.py).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from accounts.models import User

from .models import Client
from .subjects import subject_for

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

# The user field each claim is built from (_all_claims), for the profile page's "Seen by".
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

# What the consent page tells the user each scope shares, in plain words.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "openid": "Sign you in and know it is you (an identifier unique to you)",
    "profile": "Your name, username, profile picture, website, gender, birthday, time zone and language",
    "email": "Your email address and whether it is verified",
    "address": "Your postal address",
    "phone": "Your phone number and whether it is verified",
    "groups": "The names of the groups you belong to",
    "offline_access": "Stay connected when you are not using it (keeps access until you revoke it)",
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


def supported_claims() -> list[str]:
    """Return every claim Porchlight can emit, for discovery's claims_supported."""
    claims = [claim for names in SCOPE_CLAIMS.values() for claim in names]
    return list(dict.fromkeys([*claims, *ID_TOKEN_CLAIMS]))


def _address(user: User) -> dict[str, str] | None:
    # OIDC Core 1.0 §5.1.1: the address claim is a JSON object of the parts that are set.
    parts = {key: value for key, value in user.address_parts().items() if value}
    return parts or None


def _all_claims(user: User, wanted: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": user.subject,
        # OIDC Core 1.0 §5.1: the full name "including all name parts".
        "name": " ".join(filter(None, (user.first_name, user.middle_name, user.last_name))) or None,
        "given_name": user.first_name or None,
        "family_name": user.last_name or None,
        "middle_name": user.middle_name or None,
        "nickname": user.nickname or None,
        "preferred_username": user.preferred_username or user.get_username(),
        "profile": user.profile or None,
        "picture": user.picture or None,
        "website": user.website or None,
        "gender": user.gender or None,
        "birthdate": user.birthdate.isoformat() if user.birthdate else None,
        "zoneinfo": user.zoneinfo or None,
        "locale": user.locale or None,
        # OIDC Core 1.0 §5.1: updated_at is seconds since the epoch.
        "updated_at": int(user.updated_at.timestamp()) if user.updated_at else None,
        "email": user.email or None,
        "email_verified": bool(user.email_verified) if user.email else None,
        "address": _address(user),
        "phone_number": user.phone_number or None,
        "phone_number_verified": bool(user.phone_number_verified) if user.phone_number else None,
    }
    if "groups" in wanted:
        # Only when asked for: it costs a query. An empty list says "in no group".
        claims["groups"] = sorted(user.groups.values_list("name", flat=True))
    return claims


def claims_for(user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """Return the user's claims released by ``scopes``; claims with no value are omitted (§5.3.2)."""
    granted = set(scopes)
    wanted = [claim for scope, names in SCOPE_CLAIMS.items() if scope in granted for claim in names]
    if not wanted:
        return {}
    values = _all_claims(user, wanted)
    return {claim: values[claim] for claim in wanted if values[claim] is not None}


def userinfo_claims(user: User, scopes: Iterable[str], client: Client) -> dict[str, Any]:
    """Return the UserInfo response (OIDC Core 1.0 §5.3.2): ``sub`` always, then what ``scopes`` release."""
    # The sub ``client`` knows the user by (OIDC Core 1.0 §8), in place of the public one.
    return {**claims_for(user, scopes), "sub": subject_for(user, client)}


def claim_scope(claim: str) -> str | None:
    """Return the scope that releases ``claim``."""
    for scope, names in SCOPE_CLAIMS.items():
        if claim in names:
            return scope
    return None


def auth_context_claims(context: Mapping[str, Any]) -> dict[str, Any]:
    """Return auth_time, amr and acr (OIDC Core 1.0 §2) for the grant's authentication context."""
    return {claim: context[claim] for claim in ("auth_time", "amr", "acr") if context.get(claim)}
