"""Bringing accounts over from another provider, keeping their subject identifiers (``importusers``).

The apps that already know these people keep recognising them only if the ``sub`` stays the same
(OIDC Core 1.0 §2: the pair issuer and ``sub`` is the user's identity at an app, and an app moving
to Porchlight as its new issuer maps the old ``sub`` values). So every record names its ``sub``,
which no existing account may have, and the import is all or nothing: the first bad record stops
it with its index and field, and nothing is saved.

A password hash is kept when a configured password hasher (``PASSWORD_HASHERS``) can verify it:
Django's own encoded form (``pbkdf2_sha256$…``, ``argon2$…``), or a foreign one Django can verify
once prefixed with its algorithm name — a PHC Argon2 string (``$argon2id$…``, from Keycloak,
Authelia, ...) as ``argon2$argon2id$…``, a bcrypt hash (``$2b$…``) as ``bcrypt$$2b$…``. Anything else
is dropped: that account gets an unusable password and the report says it needs a reset.
"""

import datetime
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.actions import Action
from audit.services import audit_record

from .models import User

# Strings copied as they are (OIDC Core 1.0 §5.1 claim names, and the User model's own).
TEXT_FIELDS = {
    "username": "username",
    "email": "email",
    "given_name": "first_name",
    "first_name": "first_name",
    "family_name": "last_name",
    "last_name": "last_name",
    "middle_name": "middle_name",
    "nickname": "nickname",
    "preferred_username": "preferred_username",
    "profile": "profile",
    "picture": "picture",
    "website": "website",
    "gender": "gender",
    "zoneinfo": "zoneinfo",
    "locale": "locale",
    "phone_number": "phone_number",
}
FLAG_FIELDS = {
    "email_verified": "email_verified",
    "phone_number_verified": "phone_number_verified",
    "is_active": "is_active",
}
# OIDC Core 1.0 §5.1.1: the address claim's members.
ADDRESS_FIELDS = {
    "formatted": "address_formatted",
    "street_address": "address_street_address",
    "locality": "address_locality",
    "region": "address_region",
    "postal_code": "address_postal_code",
    "country": "address_country",
}
OTHER_FIELDS = {"sub", "birthdate", "address", "groups", "password_hash"}
KNOWN_FIELDS = {*TEXT_FIELDS, *FLAG_FIELDS, *OTHER_FIELDS}

# Foreign hash formats Django verifies once its algorithm name is put in front.
FOREIGN_PREFIXES = (
    ("$argon2", "argon2"),
    ("$2a$", "bcrypt$"),
    ("$2b$", "bcrypt$"),
    ("$2y$", "bcrypt$"),
)


class UserImportError(Exception):
    """A record that cannot be imported; ``index`` counts from 0, as in the JSON list."""

    def __init__(self, index: int | None, field: str, message: str) -> None:
        where = "the file" if index is None else f"record {index}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.index = index
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ImportedUser:
    """What became of one record."""

    username: str
    sub: str
    # "kept" (the old password signs in), "needs reset" (a hash no configured hasher verifies),
    # "none" (no hash given: an unusable password until a reset or an invitation).
    password: str


@dataclass
class ImportReport:
    users: list[ImportedUser] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "imported": len(self.users),
            "users": [
                {"username": user.username, "sub": user.sub, "password": user.password} for user in self.users
            ],
            "needs_password_reset": [user.username for user in self.users if user.password != "kept"],
            "groups_created": self.groups_created,
        }


def records_of(document: object) -> list[Mapping[str, Any]]:
    """Return the records of an import document: a JSON list, or an object with a ``users`` list."""
    if isinstance(document, dict) and set(document) == {"users"}:
        document = document["users"]
    if not isinstance(document, list):
        raise UserImportError(None, "", 'expected a JSON list of users, or {"users": [...]}')
    for index, record in enumerate(document):
        if not isinstance(record, dict):
            raise UserImportError(index, "", "each user is a JSON object")
    return document


def kept_password_hash(encoded: str) -> str | None:
    """Return ``encoded`` as a hash a configured hasher verifies (prefixed if foreign), or None."""
    candidates = [encoded]
    candidates += [name + encoded for prefix, name in FOREIGN_PREFIXES if encoded.startswith(prefix)]
    for candidate in candidates:
        try:
            hasher = identify_hasher(candidate)
            # A hash of a known algorithm must also parse: what verifying it will read.
            hasher.decode(candidate)
        except (ValueError, TypeError, KeyError, IndexError):
            continue
        # A hasher configured without its library (bcrypt, argon2-cffi) could not verify it.
        library = getattr(hasher, "library", None)
        module = library[1] if isinstance(library, tuple) else library
        if module and importlib.util.find_spec(module) is None:
            continue
        return candidate
    return None


def _text(index: int, name: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise UserImportError(index, name, "must be a string")
    return value.strip()


def _flag(index: int, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise UserImportError(index, name, "must be true or false")
    return value


def _build(index: int, record: Mapping[str, Any]) -> tuple[User, list[str], str]:
    """Return an unsaved user for ``record``, its group names and what became of its password."""
    unknown = sorted(set(record) - KNOWN_FIELDS)
    if unknown:
        raise UserImportError(index, unknown[0], "is not a field Porchlight imports")
    sub = record.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise UserImportError(index, "sub", "is required: the subject identifier the apps know")
    if sub != sub.strip() or "\x00" in sub:
        raise UserImportError(index, "sub", "must not start or end with spaces, nor hold NUL")
    if len(sub) > User._meta.get_field("subject").max_length:  # type: ignore[operator]
        raise UserImportError(index, "sub", "is longer than 64 characters")
    # Given by name, the subject is kept as it is, never drawn afresh (User.save).
    user = User(subject=sub)
    for name, attribute in TEXT_FIELDS.items():
        if name in record:
            setattr(user, attribute, _text(index, name, record[name]))
    for name, attribute in FLAG_FIELDS.items():
        if name in record:
            setattr(user, attribute, _flag(index, name, record[name]))
    if not user.username:
        raise UserImportError(index, "username", "is required")
    birthdate = record.get("birthdate")
    if birthdate is not None:
        try:
            user.birthdate = datetime.date.fromisoformat(_text(index, "birthdate", birthdate))
        except ValueError:
            raise UserImportError(index, "birthdate", "must be a date, YYYY-MM-DD") from None
    address = record.get("address")
    if address is not None:
        if not isinstance(address, dict):
            raise UserImportError(index, "address", "must be an object (OIDC Core 1.0 §5.1.1)")
        for name, value in address.items():
            if name not in ADDRESS_FIELDS:
                raise UserImportError(index, f"address.{name}", "is not a member of the address claim")
            setattr(user, ADDRESS_FIELDS[name], _text(index, f"address.{name}", value))
    groups = record.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(name, str) and name.strip() for name in groups):
        raise UserImportError(index, "groups", "must be a list of group names")
    password = "none"
    encoded = _text(index, "password_hash", record.get("password_hash"))
    kept = kept_password_hash(encoded) if encoded else None
    if kept:
        user.password, password = kept, "kept"
    else:
        user.set_unusable_password()
        password = "needs reset" if encoded else "none"
    try:
        # Lengths, e-mail and URL syntax, the username's characters and uniqueness; the subject is
        # not editable, so it is checked here and against the database below.
        user.full_clean(exclude=["password", "subject"])
    except ValidationError as error:
        attribute, messages = next(iter(error.message_dict.items()))
        # Named as the record named it (given_name or first_name, address.locality, ...).
        given = [name for name, field in TEXT_FIELDS.items() if field == attribute and name in record]
        given += [f"address.{name}" for name, field in ADDRESS_FIELDS.items() if field == attribute]
        raise UserImportError(index, given[0] if given else attribute, " ".join(messages)) from None
    return user, [name.strip() for name in groups], password


@transaction.atomic
def users_import(
    *,
    records: Iterable[Mapping[str, Any]],
    create_groups: bool = False,
    dry_run: bool = False,
    actor_label: str = "",
) -> ImportReport:
    """Import ``records`` (all or none) and return what became of each; raise UserImportError.

    Groups named by a record must exist unless ``create_groups``. With ``dry_run`` everything is
    checked, against the database too, and nothing is kept.
    """
    report = ImportReport(dry_run=dry_run)
    subjects: dict[str, int] = {}
    usernames: dict[str, int] = {}
    groups: dict[str, Group] = {}
    for index, record in enumerate(records):
        user, group_names, password = _build(index, record)
        # OIDC Core 1.0 §2: a sub is never reassigned, not even to someone imported.
        if user.subject in subjects:
            raise UserImportError(index, "sub", f"is the same as record {subjects[user.subject]}'s")
        if User.objects.filter(subject=user.subject).exists():
            raise UserImportError(index, "sub", "belongs to an existing account")
        folded = user.username.casefold()
        if folded in usernames:
            raise UserImportError(index, "username", f"is the same as record {usernames[folded]}'s")
        if User.objects.filter(username__iexact=user.username).exists():
            raise UserImportError(index, "username", "belongs to an existing account")
        subjects[user.subject], usernames[folded] = index, index
        user.save()
        for name in group_names:
            if name not in groups:
                group = Group.objects.filter(name=name).first()
                if group is None:
                    if not create_groups:
                        raise UserImportError(
                            index, "groups", f"no group is called {name!r} (--create-groups makes it)"
                        )
                    group = Group.objects.create(name=name)
                    report.groups_created.append(name)
                groups[name] = group
            user.groups.add(groups[name])
        report.users.append(ImportedUser(username=user.username, sub=user.subject, password=password))
    if dry_run:
        transaction.set_rollback(True)
        return report
    audit_record(
        action=Action.USERS_IMPORT,
        actor_label=actor_label,
        detail={
            "imported": len(report.users),
            "usernames": [user.username for user in report.users][:1000],
            "needs_password_reset": sum(user.password != "kept" for user in report.users),
            "groups_created": report.groups_created,
        },
    )
    return report
