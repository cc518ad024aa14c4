"""What a provisioning client does to accounts and groups; each write is audited with the client as actor.

Deactivation takes the staff path (accounts/lifecycle/services.py ``account_deactivate``): every
sign-in session ends, every token is revoked and the apps are told by back-channel logout.
DELETE asks for the account's deletion as its holder or staff would (``account_deletion_request``):
it is closed at once the same way and erased after ``PORCHLIGHT_ACCOUNT_DELETION_GRACE_DAYS``,
during which staff can restore it; its subject identifier is never issued again. SCIM answers 404
for it from the DELETE on (RFC 7644 §3.6).
"""

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.lifecycle.services import account_deactivate, account_deletion_request, account_reactivate
from accounts.models import User
from audit.actions import Action
from audit.services import audit_record

from .errors import invalid_value, mutability, uniqueness
from .models import ProvisionedGroup, ProvisionedUser, ProvisioningClient
from .resources import (
    USER_FIELDS,
    GroupWrite,
    UserWrite,
    display_default,
    provisionable_users,
    user_fields_check,
)


def actor_label(client: ProvisioningClient) -> str:
    """Return the name the audit log gives ``client`` as an actor."""
    return f"SCIM {client.name}"


def _check_free(*, username: str, email: str, exclude: int | None = None) -> None:
    # RFC 7643 §4.1.1: userName is unique and caseExact false, so two spellings of one name clash.
    others = User.objects.exclude(pk=exclude) if exclude is not None else User.objects.all()
    if others.filter(username__iexact=username).exists():
        raise uniqueness(f"An account with userName {username!r} exists already.")
    # One account per address, as invitations require: a reset link must reach one account.
    if email and others.filter(email__iexact=email).exists():
        raise uniqueness("Another account has this e-mail address.")


def _save(user: User, **kwargs: Any) -> None:
    # A concurrent create or rename of the same userName loses on the unique constraint; the
    # savepoint keeps this transaction usable to answer 409 (RFC 7644 §3.3).
    try:
        with transaction.atomic():
            user.save(**kwargs)
    except IntegrityError as error:
        raise uniqueness("An account with this userName exists already.") from error


def _lifecycle(*, client: ProvisioningClient, user: User, active: bool) -> None:
    try:
        if user.is_active and not active:
            account_deactivate(
                user=user, actor=None, actor_label=actor_label(client), reason="SCIM active=false"
            )
        elif not user.is_active and active:
            account_reactivate(user=user, actor=None, actor_label=actor_label(client))
    except ValidationError as error:
        raise mutability(" ".join(error.messages)) from error


@transaction.atomic
def scim_user_create(*, client: ProvisioningClient, write: UserWrite) -> User:
    """Create the account ``write`` describes (RFC 7644 §3.3); refuse a taken userName with 409."""
    fields = {**write.fields, "is_active": write.fields["is_active"] is not False}
    _check_free(username=fields["username"], email=fields["email"])
    user = User(**fields)
    user_fields_check(user, fields)
    if write.password:
        try:
            validate_password(write.password, user)
        except ValidationError as error:
            raise invalid_value("password: " + " ".join(error.messages)) from error
        user.set_password(write.password)
    else:
        # Signs in through a password reset, an upstream provider or a passkey added later.
        user.set_unusable_password()
    _save(user)
    ProvisionedUser.objects.create(user=user, external_id=write.external_id, display_name=write.display_name)
    audit_record(
        action=Action.SCIM_USER_CREATE,
        target=user,
        actor_label=actor_label(client),
        detail={"active": user.is_active},
    )
    return user


@transaction.atomic
def scim_user_replace(*, client: ProvisioningClient, user: User, write: UserWrite) -> User:
    """Make ``user`` what ``write`` says (a PUT, or a PATCH's result); deactivate as staff would."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if write.password is not None:
        raise mutability("password is set only when the account is created; people change it on Porchlight.")
    shown_before = display_default(user)
    fields = {name: value for name, value in write.fields.items() if name != "is_active"}
    changed = [name for name in USER_FIELDS if name in fields and getattr(user, name) != fields[name]]
    if "username" in changed or "email" in changed:
        _check_free(
            username=fields["username"], email=fields["email"] if "email" in changed else "", exclude=user.pk
        )
    for name in changed:
        setattr(user, name, fields[name])
    if changed:
        user_fields_check(user, changed)
        update = [*changed, "updated_at"]
        if "email" in changed and user.email_verified:
            # OIDC Core 1.0 §5.1: email_verified speaks of the address it was verified for.
            user.email_verified = False
            update.append("email_verified")
        _save(user, update_fields=update)
    extra, _ = ProvisionedUser.objects.get_or_create(user=user)
    if not extra.display_name and write.display_name in (shown_before, display_default(user)):
        # The default a PATCH read back and sent again is not a displayName of its own.
        write.display_name = ""
    if extra.external_id != write.external_id:
        changed.append("externalId")
    if extra.display_name != write.display_name:
        changed.append("displayName")
    if extra.external_id != write.external_id or extra.display_name != write.display_name:
        extra.external_id, extra.display_name = write.external_id, write.display_name
        extra.save()
    if changed:
        audit_record(
            action=Action.SCIM_USER_CHANGE,
            target=user,
            actor_label=actor_label(client),
            detail={"changed": sorted(changed)},
        )
    if write.fields["is_active"] is not None:
        _lifecycle(client=client, user=user, active=write.fields["is_active"])
    return user


def scim_user_delete(*, client: ProvisioningClient, user: User) -> None:
    """Close ``user``'s account at once and erase it after the grace period (RFC 7644 §3.6)."""
    try:
        account_deletion_request(user=user, actor=None, actor_label=actor_label(client))
    except ValidationError as error:
        raise mutability(" ".join(error.messages)) from error


def _members_set(group: Group, wanted: list[int]) -> tuple[int, int]:
    users = list(provisionable_users().filter(pk__in=set(wanted)))
    missing = set(wanted) - {user.pk for user in users}
    if missing:
        raise invalid_value(f"No User has the id {min(missing)}.")
    current = set(provisionable_users().filter(groups=group).values_list("pk", flat=True))
    added = [user for user in users if user.pk not in current]
    removed = current - set(wanted)
    group.user_set.add(*added)
    if removed:
        group.user_set.remove(*User.objects.filter(pk__in=removed))
    return len(added), len(removed)


def _group_name_free(name: str, exclude: int | None = None) -> None:
    others = Group.objects.exclude(pk=exclude) if exclude is not None else Group.objects.all()
    if others.filter(name__iexact=name).exists():
        raise uniqueness(f"A group named {name!r} exists already.")


@transaction.atomic
def scim_group_create(*, client: ProvisioningClient, write: GroupWrite) -> Group:
    """Create the group ``write`` describes, with its members; a taken displayName is 409."""
    _group_name_free(write.name)
    try:
        with transaction.atomic():
            group = Group.objects.create(name=write.name)
    except IntegrityError as error:
        raise uniqueness(f"A group named {write.name!r} exists already.") from error
    ProvisionedGroup.objects.create(group=group, external_id=write.external_id)
    added, _ = _members_set(group, write.members or [])
    audit_record(
        action=Action.SCIM_GROUP_CREATE,
        target=group,
        actor_label=actor_label(client),
        detail={"added": added},
    )
    return group


@transaction.atomic
def scim_group_replace(*, client: ProvisioningClient, group: Group, write: GroupWrite) -> Group:
    """Make ``group`` what ``write`` says: its name, externalId and (RFC 7644 §3.5.1) all its members."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    changed = []
    if group.name != write.name:
        _group_name_free(write.name, exclude=group.pk)
        group.name = write.name
        try:
            with transaction.atomic():
                group.save(update_fields=["name"])
        except IntegrityError as error:
            raise uniqueness(f"A group named {write.name!r} exists already.") from error
        changed.append("displayName")
    extra, _ = ProvisionedGroup.objects.get_or_create(group=group)
    if extra.external_id != write.external_id:
        changed.append("externalId")
        extra.external_id = write.external_id
    added, removed = _members_set(group, write.members or [])
    if changed or added or removed:
        extra.save()  # lastModified
        audit_record(
            action=Action.SCIM_GROUP_CHANGE,
            target=group,
            actor_label=actor_label(client),
            detail={"changed": changed, "added": added, "removed": removed},
        )
    return group


@transaction.atomic
def scim_group_delete(*, client: ProvisioningClient, group: Group) -> None:
    """Delete ``group``; its members lose what it gave them."""
    name = group.name
    group.delete()
    audit_record(action=Action.SCIM_GROUP_DELETE, target=name, actor_label=actor_label(client))
