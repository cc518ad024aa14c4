"""Claims staff define (``ClaimDefinition``) and the identity scopes of Porchlight's own that release them.

OIDC Core 1.0 §5.1.2 allows claims beyond the standard ones, and §5.4 scopes beyond the standard
ones. The values are the user's attributes (``User.attributes``, typed by accounts/attributes.py);
claims.py releases them on the one path the ID token, UserInfo and discovery share.

Token, UserInfo and discovery requests must not query for the definitions
(tests/oidc_provider/test_query_counts.py), so they are read as one ``Catalogue`` kept in
Django's cache and, for a few seconds, in the process (ground/shared_value.py). Saving or
deleting a definition or scope drops both (the receivers below); a worker whose own copy or
local-memory cache still holds the old catalogue reads it again within ``CACHE_SECONDS``. With
the Redis cache every worker sees a change within ``LOCAL_SECONDS``.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.attributes import Attribute, Kind
from ground.shared_value import SharedValue

from .models import ClaimDefinition, IdentityScope

CACHE_KEY = "porchlight:claim-catalogue:1"
CACHE_SECONDS = 60
LOCAL_SECONDS = 5
# The standard scopes a custom claim may be released with (OIDC Core 1.0 §5.4); openid
# releases only sub, and Porchlight's groups scope only group names.
STANDARD_SCOPES = ("profile", "email", "address", "phone")
# Claim names with a protocol meaning a custom claim must not take, besides the standard
# claims and the ID token's (claims.py): JWT (RFC 7519 §4.1), hashes (OIDC Core 1.0 §3.3.2.11,
# FAPI s_hash), aggregated and distributed claims (§5.6.2), JWT access tokens (RFC 9068 §2.2),
# Back-Channel Logout 1.0 §2.4 (events), RFC 8693 §4, RFC 7800 §3.1.
PROTOCOL_CLAIMS = (
    "nbf",
    "c_hash",
    "s_hash",
    "_claim_names",
    "_claim_sources",
    "client_id",
    "scope",
    "events",
    "act",
    "may_act",
    "cnf",
)
# RFC 6749 §3.3: a scope token is printable ASCII without space, '"' or '\'.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,64}")


@dataclass(frozen=True)
class CustomClaim:
    """A claim definition as releasing it needs it."""

    name: str
    label: str
    type: str
    scope: str
    user_editable: bool
    in_id_token: bool
    in_userinfo: bool
    description: str

    def as_attribute(self) -> Attribute:
        return Attribute(
            name=self.name,
            label=self.label,
            kind=self.type,
            editable=self.user_editable,
            help_text=self.description,
        )


@dataclass(frozen=True)
class Catalogue:
    """Every custom claim and identity scope, as last read from the database."""

    claims: tuple[CustomClaim, ...]
    # Identity scope name -> what the consent page says it shares.
    scopes: tuple[tuple[str, str], ...]

    @cached_property
    def version(self) -> str:
        """Return a digest of the catalogue, for caches of what depends on it (discovery)."""
        text = json.dumps([[asdict(claim) for claim in self.claims], self.scopes], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def catalogue() -> Catalogue:
    """Return the custom claims and identity scopes (cached; see the module docstring)."""
    return _CATALOGUE.get()


def catalogue_forget() -> None:
    """Drop the cached catalogue here and in the shared cache; the next reader reads it again."""
    _CATALOGUE.forget()


def _catalogue_read() -> Catalogue:
    claims = tuple(
        CustomClaim(
            name=row.name,
            label=row.label,
            type=row.type,
            scope=row.scope,
            user_editable=row.user_editable,
            in_id_token=row.in_id_token,
            in_userinfo=row.in_userinfo,
            description=row.description,
        )
        for row in ClaimDefinition.objects.order_by("name")
    )
    scopes = tuple(IdentityScope.objects.order_by("name").values_list("name", "description"))
    return Catalogue(claims=claims, scopes=scopes)


_CATALOGUE = SharedValue(
    CACHE_KEY, _catalogue_read, Catalogue, seconds=CACHE_SECONDS, local_seconds=LOCAL_SECONDS
)


@receiver(post_save, sender=ClaimDefinition)
@receiver(post_delete, sender=ClaimDefinition)
@receiver(post_save, sender=IdentityScope)
@receiver(post_delete, sender=IdentityScope)
def catalogue_changed(sender: object, **kwargs: Any) -> None:
    """Forget the catalogue now and again on commit (a reader may cache the old one in between)."""
    _CATALOGUE.forget_now_and_on_commit()


def custom_claims() -> tuple[CustomClaim, ...]:
    """Return the claims staff defined."""
    return catalogue().claims


def identity_scopes() -> dict[str, str]:
    """Return the identity scopes staff defined, each with what it shares in plain words."""
    return dict(catalogue().scopes)


def attributes() -> list[Attribute]:
    """Return the defined claims as user attributes, for the profile page and the user admin."""
    return [claim.as_attribute() for claim in custom_claims()]


# --- checks for staff's input (the admin form and the createclaim command) ------------------


def claim_name_problem(name: str, *, reserved: frozenset[str]) -> str | None:
    """Return why ``name`` cannot be a custom claim's name, or None if it can.

    Any JSON member name of printable characters without spaces will do, a URL too (OIDC Core
    1.0 §5.1.2 recommends collision-resistant names); not a name ``reserved`` for the standard
    and protocol claims.
    """
    if not name or not name.isprintable() or any(char.isspace() for char in name):
        return "A claim name must be printable characters without spaces."
    if name in reserved or name in PROTOCOL_CLAIMS:
        return f"“{name}” is a standard or protocol claim; choose another name."
    return None


def scope_name_problem(name: str, *, reserved: frozenset[str]) -> str | None:
    """Return why ``name`` cannot be an identity scope's name, or None if it can."""
    if not SCOPE_TOKEN.fullmatch(name or ""):
        return "A scope name is 1 to 64 printable ASCII characters without spaces, quotes or backslashes."
    if name in reserved:
        return f"“{name}” is already a scope here; choose another name."
    return None


def claim_scope_problem(scope: str) -> str | None:
    """Return why ``scope`` cannot release a custom claim, or None if it can."""
    if scope in STANDARD_SCOPES or IdentityScope.objects.filter(name=scope).exists():
        return None
    return f"Use {', '.join(STANDARD_SCOPES)} or an identity scope defined here."


def claim_definition_check(definition: ClaimDefinition, *, reserved: frozenset[str]) -> None:
    """Raise ValidationError if ``definition`` cannot be saved as it is."""
    errors: dict[str, str] = {}
    problem = claim_name_problem(definition.name, reserved=reserved)
    if problem:
        errors["name"] = problem
    problem = claim_scope_problem(definition.scope)
    if problem:
        errors["scope"] = problem
    if definition.type not in Kind.values:
        errors["type"] = f"Use one of {', '.join(Kind.values)}."
    if errors:
        raise ValidationError(errors)
