"""Writes that carry logic: clients (create, change, secrets, delete) and revoking a user's access.

Every rule a client obeys lives in ``Client.clean()``; these functions run it, save, and
write the audit record. Secrets are minted, hashed and audited in one place,
``client_secret_set``.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext
from oauth2_provider.generators import generate_client_secret

from accounts.models import User
from audit.actions import Action
from audit.services import audit_record

from .claims import reserved_claim_names
from .custom_claims import claim_definition_check, scope_name_problem
from .hashers import client_secret_problem
from .models import (
    Algorithm,
    ApiScope,
    ClaimDefinition,
    Client,
    DeviceGrant,
    Grant,
    GrantType,
    IdentityScope,
    ResponseType,
)
from .response_types import response_type_normalized
from .standard_claims import SCOPE_DESCRIPTIONS
from .tokens import user_tokens_revoke

# OIDC Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2 client metadata, named as
# in registration.
LOGOUT_FIELDS = (
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
)
# OIDC Core 1.0 §8, OIDC Registration 1.0 §2: which sub the client sees (oidc_provider/subjects.py).
SUBJECT_FIELDS = ("subject_type", "sector_identifier_uri")
# OIDC Core 1.0 §6, §9, OIDC Registration 1.0 §2, RFC 9101 §10.5: how the client authenticates,
# its public keys and its request objects (client_auth.py, client_keys.py, request_objects.py).
CLIENT_KEY_FIELDS = (
    "token_endpoint_auth_method",
    "token_endpoint_auth_signing_alg",
    "jwks",
    "jwks_uri",
    "request_object_signing_alg",
    "require_signed_request_object",
    "request_uris",
)


def response_types_listed(values: list[str]) -> list[str]:
    """Return ``values`` once each, in canonical word order (one not supported stays, for clean())."""
    return list(dict.fromkeys(response_type_normalized(value) or value for value in values))


@transaction.atomic
def client_create(
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    grant_types: list[str] | None = None,
    response_types: list[str] | None = None,
    skip_consent: bool = False,
    algorithm: str = Algorithm.RS256,
    userinfo_algorithm: str = "",
    allowed_origins: list[str] | None = None,
    access_token_format: str = Client.AccessTokenFormat.JWT,
    access_token_algorithm: str = Algorithm.RS256,
    require_pkce: bool = True,
    require_mfa: bool = False,
    release_groups: bool = False,
    logout: dict[str, Any] | None = None,
    subject: dict[str, str] | None = None,
    rate_limit: str = "",
    client_keys: dict[str, Any] | None = None,
    registration_source: str = Client.RegistrationSource.MANUAL,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> tuple[Client, str | None]:
    """Create a client and return it with its cleartext secret (None for a public client).

    The secret is returned exactly once: only its hash is stored. ``logout`` holds the client's
    back- and front-channel logout metadata (``LOGOUT_FIELDS``), ``subject`` its subject type and
    sector identifier URI (``SUBJECT_FIELDS``), ``userinfo_algorithm`` how UserInfo is signed
    ("": not at all), ``rate_limit`` its request budget (``REQUESTS/SECONDS``, ``unlimited``, or
    blank for the provider's default; rate_limits.py). ``response_types`` beyond ``code`` turn on
    the implicit and hybrid flows for it (response_types.py). ``client_keys`` holds its
    authentication method, public keys and request object settings (``CLIENT_KEY_FIELDS``); a
    private_key_jwt client gets no secret: it proves itself with its keys only.
    """
    client = Client(
        name=name,
        client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
        grant_types=list(
            dict.fromkeys(grant_types or [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN])
        ),
        response_types=response_types_listed(response_types or [ResponseType.CODE]),
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        allowed_origins=" ".join(allowed_origins or []),
        skip_authorization=skip_consent,
        algorithm=algorithm,
        userinfo_signed_response_alg=userinfo_algorithm,
        access_token_format=access_token_format,
        access_token_algorithm=access_token_algorithm,
        require_pkce=require_pkce,
        require_mfa=require_mfa,
        release_groups=release_groups,
        rate_limit=rate_limit,
        registration_source=registration_source,
        client_secret="",
        **{field: value for field, value in (logout or {}).items() if field in LOGOUT_FIELDS},
        **{field: value for field, value in (subject or {}).items() if field in SUBJECT_FIELDS},
        **{field: value for field, value in (client_keys or {}).items() if field in CLIENT_KEY_FIELDS},
    )
    keys_only = client.token_endpoint_auth_method == Client.AuthMethod.PRIVATE_KEY_JWT
    secret = None if public or keys_only else client_secret_set(client=client)
    client.full_clean()
    client.save()
    client_create_record(client=client, actor=actor, actor_label=actor_label)
    return client, secret


def client_create_record(
    *, client: Client, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> None:
    """Write the audit record for a new client (the admin saves its own form, then calls this)."""
    audit_record(
        action=Action.CLIENT_CREATE,
        target=client,
        actor=actor,
        actor_label=actor_label,
        detail={"name": client.name, "client_type": client.client_type, "grant_types": client.grant_types},
    )


@transaction.atomic
def client_secret_set(
    *,
    client: Client,
    secret: str | None = None,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    save: bool = True,
) -> str:
    """Give a confidential client ``secret``, or a generated one, and return it (shown once).

    Only its hash is stored (DOT hashes on save). For a client that already exists the reset is
    audited here, and saved here unless the caller saves the row itself (``save=False``); a new
    one is saved, and its creation audited, by whoever makes it.
    """
    if client.client_type != Client.CLIENT_CONFIDENTIAL:
        raise ValidationError({"client_secret": "An app that cannot keep a secret has none."})
    if secret:
        problem = client_secret_problem(secret)
        if problem:
            raise ValidationError({"client_secret": problem})
    secret = secret or generate_client_secret()
    client.client_secret = secret
    client.hash_client_secret = True
    if client.pk is not None:
        if save:
            # An HS256 client's encrypted copy follows its secret (Client.save).
            client.save(
                update_fields=["client_secret", "hash_client_secret", "client_secret_encrypted", "updated"]
            )
        audit_record(
            action=Action.CLIENT_SECRET_RESET,
            target=client,
            actor=actor,
            actor_label=actor_label,
            detail={"name": client.name},
        )
    return secret


@transaction.atomic
def client_update(
    *,
    client: Client,
    name: str | None = None,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    grant_types: list[str] | None = None,
    response_types: list[str] | None = None,
    subject_type: str | None = None,
    sector_identifier_uri: str | None = None,
    userinfo_signed_response_alg: str | None = None,
    rate_limit: str | None = None,
    client_keys: dict[str, Any] | None = None,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
) -> list[str]:
    """Change the given settings of ``client`` (None leaves one as it is); return what changed.

    ``client_keys`` holds new values of ``CLIENT_KEY_FIELDS`` (authentication method, public keys,
    request object settings).
    """
    wanted = {
        "name": name,
        "redirect_uris": None if redirect_uris is None else " ".join(redirect_uris),
        "post_logout_redirect_uris": (
            None if post_logout_redirect_uris is None else " ".join(post_logout_redirect_uris)
        ),
        "allowed_origins": None if allowed_origins is None else " ".join(allowed_origins),
        "grant_types": None if grant_types is None else list(dict.fromkeys(grant_types)),
        "response_types": None if response_types is None else response_types_listed(response_types),
        "subject_type": subject_type,
        "sector_identifier_uri": sector_identifier_uri,
        "userinfo_signed_response_alg": userinfo_signed_response_alg,
        "rate_limit": rate_limit,
        **{field: value for field, value in (client_keys or {}).items() if field in CLIENT_KEY_FIELDS},
    }
    changed = [
        field for field, value in wanted.items() if value is not None and value != getattr(client, field)
    ]
    if (
        "userinfo_signed_response_alg" in changed
        and userinfo_signed_response_alg == Algorithm.HS256
        and not client.client_secret_encrypted
    ):
        # OIDC Core 1.0 §10.1: the HMAC key is the secret, of which only a hash is kept here.
        raise ValidationError(
            {
                "userinfo_signed_response_alg": "HS256 signs with the client secret, which is stored "
                "hashed: choose HS256 in the admin together with a new secret."
            }
        )
    for field in changed:
        setattr(client, field, wanted[field])
    if changed:
        client.full_clean()
        client.save()
        client_change_record(client=client, changed=changed, actor=actor, actor_label=actor_label)
    return changed


def client_change_record(
    *, client: Client, changed: list[str], actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> None:
    """Write the audit record for a change to ``client``'s settings (never their values' secrets)."""
    audit_record(
        action=Action.CLIENT_CHANGE,
        target=client,
        actor=actor,
        actor_label=actor_label,
        detail={
            "name": client.name,
            "changed": sorted(set(changed) - {"client_secret", "new_client_secret"}),
        },
    )


@transaction.atomic
def client_delete(
    *, client: Client, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> None:
    """Delete ``client`` with every token, code and consent it holds."""
    audit_record(
        action=Action.CLIENT_DELETE,
        target=client,
        actor=actor,
        actor_label=actor_label,
        detail={"name": client.name},
    )
    client.delete()


@transaction.atomic
def user_tokens_revoke_all(
    *, user: User, actor: User | AnonymousUser | None = None, actor_label: str = ""
) -> int:
    """Revoke every token and unredeemed code any client holds for ``user``; return how many tokens."""
    count = user_tokens_revoke(user=user)
    # A code or approved device grant not yet exchanged would otherwise still buy fresh tokens.
    Grant.objects.filter(user=user).delete()
    DeviceGrant.objects.filter(user=user).delete()
    audit_record(
        action=Action.USER_TOKENS_REVOKE,
        target=user,
        actor=actor,
        actor_label=actor_label,
        detail={"tokens": count},
    )
    return count


# --- claims staff define (custom_claims.py) ------------------------------------------------------


def claim_definition_validate(definition: ClaimDefinition, *, fields: bool = True) -> None:
    """Raise ValidationError unless ``definition`` can be saved: a free name, a known scope, valid fields."""
    if fields:
        definition.full_clean()
    claim_definition_check(definition, reserved=reserved_claim_names())


def identity_scope_validate(scope: IdentityScope, *, fields: bool = True) -> None:
    """Raise ValidationError unless ``scope`` can be saved: a name no other scope has, valid fields."""
    if fields:
        scope.full_clean()
    problem = scope_name_problem(scope.name, reserved=frozenset(SCOPE_DESCRIPTIONS))
    if problem:
        raise ValidationError({"name": problem})
    if ApiScope.objects.filter(name=scope.name).exists():
        # One name, one meaning: a scope is an API's or an identity scope, never both (apis.py).
        raise ValidationError(
            {"name": gettext("“%s” is a scope of an API; choose another name.") % scope.name}
        )


@transaction.atomic
def claim_define(
    *,
    name: str,
    label: str,
    type: str,
    scope: str,
    scope_description: str = "",
    user_editable: bool = False,
    in_id_token: bool = False,
    in_userinfo: bool = True,
    description: str = "",
) -> ClaimDefinition:
    """Define the custom claim ``name``; with ``scope_description``, its identity scope first if new."""
    if scope_description and not IdentityScope.objects.filter(name=scope).exists():
        identity_scope = IdentityScope(name=scope, description=scope_description)
        identity_scope_validate(identity_scope)
        identity_scope.save()
    definition = ClaimDefinition(
        name=name,
        label=label,
        type=type,
        scope=scope,
        user_editable=user_editable,
        in_id_token=in_id_token,
        in_userinfo=in_userinfo,
        description=description,
    )
    claim_definition_validate(definition)
    definition.save()
    return definition


def claim_definition_describe(definition: ClaimDefinition) -> dict[str, Any]:
    """Return ``definition`` as listclaims and createclaim --json print it."""
    return {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "scope": definition.scope,
        "user_editable": definition.user_editable,
        "in_id_token": definition.in_id_token,
        "in_userinfo": definition.in_userinfo,
        "description": definition.description,
    }
