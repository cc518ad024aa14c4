"""APIs (resource servers): which of their scopes a client may have, and which API a token is for.

The rules (docs/apis.md), applied at the authorization endpoint, at the token endpoint
(client_credentials, device code) and again at every code exchange and refresh:

- A client gets only the API scopes staff allowed it (``Client.allowed_scopes``); asking for
  another, or for a scope no API defines, is ``invalid_scope`` (RFC 6749 §4.1.2.1, §5.2). This
  is checked first, before the resource.
- One token has one audience. The ``resource`` parameter (RFC 8707 §2) names the API; without
  it, the API whose scopes were asked for is the resource. Scopes of two APIs in one request
  without ``resource`` are ``invalid_scope``; with ``resource``, a scope of an API other than
  the named one is ``invalid_scope`` too (never silently dropped). API scopes with a resource
  that is no registered API, or with several resources, are ``invalid_target``.
- A request with no API scope is untouched: any valid resource indicator may be its audience.

``allowed_api_scopes`` is the one allowance rule and ``api_target`` the one matching rule; every
grant asks them (a later token-exchange grant too).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record

from .claims import claim_description
from .custom_claims import identity_scopes
from .models import OIDC_SCOPE_NAMES, Api, ApiScope, Client, Role


class ApiTargetError(Exception):
    """A request's scopes and resources do not name one API the client may use (an OAuth error)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ApiTarget:
    """The API a request's API scopes belong to (None: it asked for none), and the audience to store.

    A request without API scopes is not matched to an API here; ``token_api`` finds the API its
    one resource names, if any, when the token is made.
    """

    api: Api | None
    resources: list[str]


def api_find(identifier: str) -> Api | None:
    """Return the API registered as ``identifier`` (its RFC 8707 resource value)."""
    return Api.objects.filter(identifier=identifier).first()


def api_scope_names(scopes: Iterable[str]) -> list[str]:
    """Return the scopes of ``scopes`` that are neither OpenID Connect's nor staff's identity scopes.

    So API scopes, or unknown ones.
    """
    identity = identity_scopes()
    return [scope for scope in scopes if scope not in OIDC_SCOPE_NAMES and scope not in identity]


def allowed_api_scopes(client: Client, api: Api | None, asked: Iterable[str] | None = None) -> list[str]:
    """Return the scopes of ``asked`` that ``client`` may have for ``api``.

    ``api`` None means any API; ``asked`` None means every scope the client is allowed.
    """
    if client.pk is None:
        return []
    allowed = client.allowed_scopes.all()
    if api is not None:
        allowed = allowed.filter(api=api)
    if asked is not None:
        allowed = allowed.filter(name__in=list(asked))
    return list(allowed.values_list("name", flat=True))


def api_target(*, client: Client, scopes: Sequence[str], resources: Sequence[str]) -> ApiTarget:
    """Return the API ``scopes`` and ``resources`` name for ``client``; raise ApiTargetError if none may."""
    asked = api_scope_names(scopes)
    resources = list(resources)
    if not asked:
        # No API scope: the audience is what was asked (RFC 8707), unchecked and unlooked-up.
        return ApiTarget(None, resources)
    defined = {row.name: row.api for row in ApiScope.objects.filter(name__in=asked).select_related("api")}
    unknown = [scope for scope in asked if scope not in defined]
    if unknown:
        raise ApiTargetError("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    # Checked before the resource, as the scopes backend does at every endpoint (scopes.py).
    refused = set(asked) - set(allowed_api_scopes(client, None, asked))
    if refused:
        raise ApiTargetError("invalid_scope", f"This client may not ask for: {' '.join(sorted(refused))}.")
    if len(resources) > 1:
        raise ApiTargetError(
            "invalid_target", "API scopes go to one API: ask for one resource (one token, one audience)."
        )
    if resources:
        api = api_find(resources[0])
        if api is None:
            raise ApiTargetError("invalid_target", f"The resource '{resources[0]}' is not a registered API.")
        foreign = [scope for scope in asked if defined[scope].pk != api.pk]
        if foreign:
            raise ApiTargetError(
                "invalid_scope", f"Not scopes of the API {api.identifier}: {' '.join(foreign)}."
            )
    else:
        apis = {owner.pk: owner for owner in defined.values()}
        if len(apis) > 1:
            raise ApiTargetError(
                "invalid_scope",
                "The scopes belong to more than one API; one token has one audience: "
                "ask for each API's token with its resource parameter (RFC 8707).",
            )
        (api,) = apis.values()
    return ApiTarget(api, [api.identifier])


def scopes_still_allowed(client: Client, scopes: Sequence[str]) -> list[str]:
    """Return ``scopes`` without the API scopes ``client`` is no longer allowed (code, refresh)."""
    asked = api_scope_names(scopes)
    if not asked:
        return list(scopes)
    allowed = set(allowed_api_scopes(client, None, asked))
    return [scope for scope in scopes if scope not in asked or scope in allowed]


def token_api(resources: Sequence[str]) -> Api | None:
    """Return the API a token for ``resources`` is for: the one registered API it names, if any."""
    return api_find(resources[0]) if len(resources) == 1 else None


# --- staff's writes: commands and the admin call these --------------------------------------


def api_settings(api: Api) -> dict[str, Any]:
    """Return what an API is, for commands' output, audit details and the admin."""
    return {
        "identifier": api.identifier,
        "name": api.name,
        "format": api.format,
        "lifetime": api.lifetime,
        "algorithm": api.algorithm,
        "token_claims": list(api.token_claims),
        "keycloak_roles": api.keycloak_roles,
        "scopes": {scope.name: scope.description for scope in api.scopes.all()},
        "roles": {role.name: role.description for role in api.roles.all()},
        "clients": sorted(
            Client.objects.filter(allowed_scopes__api=api).distinct().values_list("client_id", flat=True)
        ),
    }


def _validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


@transaction.atomic
def api_save(
    *,
    api: Api,
    scopes: Mapping[str, str] | None = None,
    remove_scopes: Iterable[str] = (),
    roles: Mapping[str, str] | None = None,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    created: bool = False,
) -> Api:
    """Validate and save ``api`` with ``scopes`` added or described anew and ``remove_scopes`` gone.

    Raises ValidationError naming what is wrong; nothing is written then.
    """
    api.full_clean()
    api.save()
    for name in remove_scopes:
        if not api.scopes.filter(name=name).delete()[0]:
            raise ValidationError({"scopes": [f"{api.identifier} has no scope {name}."]})
    for name, description in (scopes or {}).items():
        scope = api.scopes.filter(name=name).first() or ApiScope(api=api, name=name)
        scope.description = description
        try:
            scope.full_clean()
        except ValidationError as error:
            raise ValidationError({"scopes": [f"{name}: {_validation_message(error)}"]}) from None
        scope.save()
    for name, description in (roles or {}).items():
        role = api.roles.filter(name=name).first() or Role(api=api, name=name)
        role.description = description
        role.full_clean()
        role.save()
    audit_record(
        action=Action.API_CREATE if created else Action.API_CHANGE,
        target=api,
        actor=actor,
        actor_label=actor_label,
        detail=api_settings(api),
    )
    return api


@transaction.atomic
def api_delete(*, api: Api, actor: User | AnonymousUser | None = None, actor_label: str = "") -> None:
    """Delete ``api``, its scopes (and so every client's allowance of them) and its roles.

    Tokens already issued for it stay valid until they expire (a JWT cannot be recalled), and
    a refresh of them no longer carries the deleted scopes.
    """
    detail = api_settings(api)
    audit_record(action=Action.API_DELETE, target=api, actor=actor, actor_label=actor_label, detail=detail)
    api.delete()


@transaction.atomic
def client_scopes_change(
    *,
    client: Client,
    allow: Iterable[str] = (),
    disallow: Iterable[str] = (),
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> list[str]:
    """Allow ``client`` the API scopes ``allow`` and take ``disallow`` away; return what it is allowed."""
    allow, disallow = list(allow), list(disallow)
    found = {scope.name: scope for scope in ApiScope.objects.filter(name__in=[*allow, *disallow])}
    unknown = [name for name in [*allow, *disallow] if name not in found]
    if unknown:
        raise ValidationError({"allowed_scopes": [f"No API defines the scope {' '.join(unknown)}."]})
    client.allowed_scopes.add(*(found[name] for name in allow))
    client.allowed_scopes.remove(*(found[name] for name in disallow))
    names = sorted(client.allowed_scopes.values_list("name", flat=True))
    audit_record(
        action=Action.CLIENT_CHANGE,
        target=client,
        actor=actor,
        actor_label=actor_label,
        detail={"allowed_scopes": names},
    )
    return names


@transaction.atomic
def client_exchange_apis_change(
    *,
    client: Client,
    allow: Iterable[str] = (),
    disallow: Iterable[str] = (),
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> list[str]:
    """Let ``client`` exchange tokens of the APIs ``allow`` (identifiers), not of ``disallow``.

    Return the identifiers of the APIs whose tokens it may exchange (RFC 8693, token_exchange.py).
    """
    allow, disallow = list(allow), list(disallow)
    found = {api.identifier: api for api in Api.objects.filter(identifier__in=[*allow, *disallow])}
    unknown = [identifier for identifier in [*allow, *disallow] if identifier not in found]
    if unknown:
        raise ValidationError({"token_exchange_apis": [f"No API is registered as {' '.join(unknown)}."]})
    if allow and client.client_type != Client.CLIENT_CONFIDENTIAL:
        raise ValidationError(
            {"token_exchange_apis": ["An app that cannot keep a secret cannot exchange tokens (RFC 8693)."]}
        )
    client.token_exchange_apis.add(*(found[identifier] for identifier in allow))
    client.token_exchange_apis.remove(*(found[identifier] for identifier in disallow))
    identifiers = sorted(client.token_exchange_apis.values_list("identifier", flat=True))
    audit_record(
        action=Action.CLIENT_CHANGE,
        target=client,
        actor=actor,
        actor_label=actor_label,
        detail={"token_exchange_apis": identifiers},
    )
    return identifiers


# --- roles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRoles:
    """A user's role names (given directly or through a group) for a token to one API and client."""

    api: list[str]
    client: list[str]
    realm: list[str]


def user_roles(user: User, *, api: Api, client: Client) -> UserRoles:
    """Return ``user``'s roles of ``api``, of ``client`` and global ones, in one query."""
    owners = Q(api=api) | Q(client=client) | Q(api__isnull=True, client__isnull=True)
    held = Q(users=user) | Q(groups__in=user.groups.all())
    rows = Role.objects.filter(owners, held).values_list("name", "api_id", "client_id").distinct()
    found: dict[str, set[str]] = {"api": set(), "client": set(), "realm": set()}
    for name, api_id, client_id in rows:
        kind = "api" if api_id is not None else "client" if client_id is not None else "realm"
        found[kind].add(name)
    return UserRoles(sorted(found["api"]), sorted(found["client"]), sorted(found["realm"]))


def role_claims(user: User, *, api: Api, client: Client) -> dict[str, Any]:
    """Return the role claims of an access token for ``api`` (RFC 9068 §2.2.3.1 ``roles``).

    With ``api.keycloak_roles`` also Keycloak's shapes: ``realm_access.roles`` (global roles) and
    ``resource_access.<API identifier or client_id>.roles``, which Keycloak adapters read.
    """
    roles = user_roles(user, api=api, client=client)
    claims: dict[str, Any] = {"roles": roles.api}
    if api.keycloak_roles:
        claims["realm_access"] = {"roles": roles.realm}
        access = {api.identifier: {"roles": roles.api}}
        if roles.client:
            access[client.client_id] = {"roles": roles.client}
        claims["resource_access"] = access
    return claims


@transaction.atomic
def role_save(
    *,
    role: Role,
    add_users: Iterable[User] = (),
    remove_users: Iterable[User] = (),
    add_groups: Iterable[Group] = (),
    remove_groups: Iterable[Group] = (),
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> Role:
    """Validate and save ``role``, then give it to and take it from users and groups."""
    role.full_clean()
    role.save()
    role.users.add(*add_users)
    role.users.remove(*remove_users)
    role.groups.add(*add_groups)
    role.groups.remove(*remove_groups)
    role_change_record(role=role, actor=actor, actor_label=actor_label)
    return role


def role_change_record(
    *, role: Role, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> None:
    """Write the audit record for a role created or changed (the admin saves its own form)."""
    audit_record(
        action=Action.ROLE_CHANGE,
        target=role,
        actor=actor,
        actor_label=actor_label,
        detail=role_settings(role),
    )


def role_settings(role: Role) -> dict[str, Any]:
    """Return what a role is and who has it, for commands' output and audit details."""
    return {
        "name": role.name,
        "description": role.description,
        "api": role.api.identifier if role.api else None,
        "client": role.client.client_id if role.client else None,
        "users": sorted(role.users.values_list("username", flat=True)),
        "groups": sorted(role.groups.values_list("name", flat=True)),
    }


# --- the consent page -------------------------------------------------------------------------


def _mid_sentence(words: str) -> str:
    return words[:1].lower() + words[1:]


@dataclass(frozen=True)
class ConsentSection:
    """What the consent page shows about the API a request's token is for."""

    name: str
    identifier: str
    # The API scopes asked for, with their descriptions.
    scopes: list[tuple[str, str]]
    # In plain words, what its tokens tell it about the person (its token claims, roles).
    sees: list[str]


def consent_section(
    *, user: User, client: Client, scopes: Sequence[str], resources: Sequence[str]
) -> ConsentSection | None:
    """Return what the consent page shows about the API the token will be for, if it is one."""
    api = token_api(resources)
    if api is None:
        return None
    asked = api_scope_names(scopes)
    described = dict(api.scopes.filter(name__in=asked).values_list("name", "description"))
    # The claims in the words the consent page uses for them one by one (claims.py), mid-sentence.
    sees = [_mid_sentence(claim_description(claim)) for claim in api.token_claims]
    roles = user_roles(user, api=api, client=client)
    shown = [*roles.api, *roles.client, *roles.realm] if api.keycloak_roles else roles.api
    if shown:
        sees.append(_("your roles (%(roles)s)") % {"roles": ", ".join(shown)})
    return ConsentSection(
        name=api.name,
        identifier=api.identifier,
        scopes=[(scope, described.get(scope, scope)) for scope in asked],
        sees=sees,
    )
