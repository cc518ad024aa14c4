"""Scopes and the claims they release: the one path used by ID tokens, UserInfo and discovery.

OIDC Core 1.0 §5.4 maps the standard scopes to standard claims (§5.1). ``sub`` is always
released with ``openid``. ``groups`` (the names of the user's groups) is Porchlight's own scope
and claim, offered only to clients staff allowed it (``Client.release_groups``, scopes.py).
Claims staff define (custom_claims.py) are released by the scope each names, into the ID token,
UserInfo or both as the definition says. A claim the claims request parameter asked for by name
(OIDC Core 1.0 §5.5, requested_claims.py) is released where it was asked for.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from django.utils.translation import gettext

from accounts.attributes import attribute_values, field_name
from accounts.models import User

from .custom_claims import custom_claims, identity_scopes
from .mfa_policy import ACR_LEVELS
from .models import Client
from .standard_claims import (
    CLAIM_DESCRIPTIONS,
    FIELD_CLAIMS,
    ID_TOKEN_CLAIMS,
    SCOPE_CLAIMS,
    SCOPE_DESCRIPTIONS,
)
from .subjects import subject_for

# Where claims go: the ID token or the UserInfo response.
Target = Literal["id_token", "userinfo"]


def reserved_claim_names() -> frozenset[str]:
    """Return the names no custom claim may take: the standard claims and the ID token's."""
    return frozenset([*(claim for names in SCOPE_CLAIMS.values() for claim in names), *ID_TOKEN_CLAIMS])


def scope_claims() -> dict[str, tuple[str, ...]]:
    """Return each scope with the claims it releases: the standard ones, then those staff defined."""
    scopes = dict(SCOPE_CLAIMS)
    for claim in custom_claims():
        scopes[claim.scope] = (*scopes.get(claim.scope, ()), claim.name)
    return scopes


def scope_description(scope: str) -> str:
    """Return what ``scope`` shares, in plain words, for the consent and account pages."""
    if scope in SCOPE_DESCRIPTIONS:
        return gettext(SCOPE_DESCRIPTIONS[scope])
    return identity_scopes().get(scope) or scope


def claim_description(claim: str) -> str:
    """Return what ``claim`` shares, in plain words, for a consent page that asks for it singly."""
    if claim in CLAIM_DESCRIPTIONS:
        return gettext(CLAIM_DESCRIPTIONS[claim])
    labels = {custom.name: custom.label for custom in custom_claims()}
    return labels.get(claim, claim)


def field_claims() -> dict[str, str]:
    """Return the claim each profile field is released as: the standard fields', then the attributes'."""
    return {**FIELD_CLAIMS, **{field_name(claim.name): claim.name for claim in custom_claims()}}


def supported_claims() -> list[str]:
    """Return every claim Porchlight can emit, for discovery's claims_supported."""
    claims = [claim for names in scope_claims().values() for claim in names]
    return list(dict.fromkeys([*claims, *ID_TOKEN_CLAIMS]))


def _address(user: User) -> dict[str, str] | None:
    # OIDC Core 1.0 §5.1.1: the address claim is a JSON object of the parts that are set.
    parts = {key: value for key, value in user.address_parts().items() if value}
    return parts or None


def _full_name(user: User) -> str | None:
    # OIDC Core 1.0 §5.1: the full name "including all name parts".
    return " ".join(filter(None, (user.first_name, user.middle_name, user.last_name))) or None


# Each standard claim's value for a user (None: the user has none). The public sub; each output
# puts the one its client knows the user by (OIDC Core 1.0 §8, subjects.py) in its place.
_CLAIM_VALUE: dict[str, Callable[[User], Any]] = {
    "sub": lambda user: user.subject,
    "name": _full_name,
    "given_name": lambda user: user.first_name or None,
    "family_name": lambda user: user.last_name or None,
    "middle_name": lambda user: user.middle_name or None,
    "nickname": lambda user: user.nickname or None,
    "preferred_username": lambda user: user.preferred_username or user.get_username(),
    "profile": lambda user: user.profile or None,
    "picture": lambda user: user.picture or None,
    "website": lambda user: user.website or None,
    "gender": lambda user: user.gender or None,
    "birthdate": lambda user: user.birthdate.isoformat() if user.birthdate else None,
    "zoneinfo": lambda user: user.zoneinfo or None,
    "locale": lambda user: user.locale or None,
    # OIDC Core 1.0 §5.1: updated_at is seconds since the epoch.
    "updated_at": lambda user: int(user.updated_at.timestamp()) if user.updated_at else None,
    "email": lambda user: user.email or None,
    "email_verified": lambda user: bool(user.email_verified) if user.email else None,
    "address": _address,
    "phone_number": lambda user: user.phone_number or None,
    "phone_number_verified": lambda user: bool(user.phone_number_verified) if user.phone_number else None,
}


def _standard_claims(user: User, wanted: list[str]) -> dict[str, Any]:
    # Only the claims wanted: each reads only its own fields.
    claims = {name: _CLAIM_VALUE[name](user) for name in wanted if name in _CLAIM_VALUE}
    if "groups" in wanted:
        # Only when asked for: it costs a query. An empty list says "in no group".
        claims["groups"] = sorted(user.groups.values_list("name", flat=True))
    return claims


# The claims of scopes few tokens carry, with the fields they read: UserInfo's lookup leaves those
# fields out (tokens.py), and claim_values reads them in one query when a claim asks for them.
SELDOM_CLAIM_FIELDS: dict[str, tuple[str, ...]] = {
    "address": tuple(field for field, claim in FIELD_CLAIMS.items() if claim == "address"),
    "phone_number": ("phone_number", "phone_number_verified"),
    "phone_number_verified": ("phone_number", "phone_number_verified"),
}


def _read_seldom_fields(user: User, wanted: list[str]) -> None:
    asked = SELDOM_CLAIM_FIELDS.keys() & wanted
    if not asked:
        return
    loaded = vars(user)
    unread = sorted({field for claim in asked for field in SELDOM_CLAIM_FIELDS[claim] if field not in loaded})
    if not unread:
        return
    # One query for all of them, not one per field as deferred fields load on their own.
    row = User.objects.filter(pk=user.pk).values(*unread).first()
    if row is None:
        # An account deleted since its token was read (by staff, a moment ago): none of them.
        row = {field.attname: field.get_default() for field in User._meta.concrete_fields}
    for field in unread:
        setattr(user, field, row[field])


def claim_values(user: User, names: Iterable[str]) -> dict[str, Any]:
    """Return the user's values of the claims ``names``, standard or custom; those with none are omitted.

    Names that are no claim here are ignored. Access tokens that carry user claims name them
    through this function, so a custom claim is addressable by its name like a standard one.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    _read_seldom_fields(user, wanted)
    values = _standard_claims(user, wanted)
    custom = [claim.as_attribute() for claim in custom_claims() if claim.name in wanted]
    values.update(attribute_values(custom, user.attributes or {}))
    return {claim: values[claim] for claim in wanted if values.get(claim) is not None}


def released_claims(scopes: Iterable[str], target: Target) -> list[str]:
    """Return the claims ``scopes`` release into ``target``, in scope order."""
    granted = set(scopes)
    names = [claim for scope, claims in SCOPE_CLAIMS.items() if scope in granted for claim in claims]
    for claim in custom_claims():
        if claim.scope in granted and (claim.in_id_token if target == "id_token" else claim.in_userinfo):
            names.append(claim.name)
    return names


def claims_for(
    user: User, scopes: Iterable[str], *, target: Target = "userinfo", requested: Iterable[str] = ()
) -> dict[str, Any]:
    """Return the user's claims ``scopes`` release into ``target``, and those ``requested`` by name.

    ``requested`` are the claims the authorization request asked for in ``target`` (OIDC Core
    1.0 §5.5), which the user allowed. Claims with no value are omitted (§5.3.2).
    """
    return claim_values(user, [*released_claims(scopes, target), *requested])


def userinfo_claims(
    user: User, scopes: Iterable[str], client: Client, *, requested: Iterable[str] = ()
) -> dict[str, Any]:
    """Return the UserInfo response (OIDC Core 1.0 §5.3.2): ``sub`` always, then what ``scopes`` release.

    The ``sub`` is the one ``client`` knows the user by (OIDC Core 1.0 §8, subjects.py).
    """
    claims = claims_for(user, scopes, target="userinfo", requested=requested)
    return {
        "sub": subject_for(user, client),
        **{name: value for name, value in claims.items() if name != "sub"},
    }


def claim_scope(claim: str) -> str | None:
    """Return the scope that releases ``claim``."""
    # scope_claims() lists the standard scopes first, so a standard claim finds its own.
    for scope, names in scope_claims().items():
        if claim in names:
            return scope
    return None


def auth_context_claims(context: Mapping[str, Any], *, acr_values: Iterable[str] = ()) -> dict[str, Any]:
    """Return auth_time, amr and acr (OIDC Core 1.0 §2) for the grant's authentication context.

    ``acr_values`` are the values an essential acr claim request asked for (OIDC Core 1.0
    §5.5.1.1: the acr returned MUST match one of them). The sign-in met the strongest of them
    at or below its own level (the authorization request asked for the step-up otherwise), and
    that is the one reported.
    """
    claims = {claim: context[claim] for claim in ("auth_time", "amr", "acr") if context.get(claim)}
    wanted = [value for value in acr_values if value in ACR_LEVELS]
    acr = claims.get("acr")
    if wanted and acr in ACR_LEVELS and acr not in wanted:
        met = [value for value in wanted if ACR_LEVELS[value] <= ACR_LEVELS[acr]]
        if met:
            claims["acr"] = max(met, key=ACR_LEVELS.__getitem__)
    return claims
