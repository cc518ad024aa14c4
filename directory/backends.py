"""Sign-in against an LDAP directory or Active Directory: django-auth-ldap, made to fail safely.

Django tries ``ModelBackend`` first (settings.AUTHENTICATION_BACKENDS), so a local account's
sign-in never waits on the directory. This backend then:

- leaves alone any username a local account holds: no directory entry of the same name takes it
  over, and a mistyped local password never reaches the directory;
- binds as the person (django-auth-ldap), reads their attributes and groups, and makes or updates
  the account in one transaction, so a sign-in that fails half-way leaves nothing behind;
- raises ``SignInUnavailable`` when the directory did not answer, which the sign-in form shows
  instead of "not correct".

django-auth-ldap reports a directory error it catches through its ``ldap_error`` signal and then
carries on as if the person were unknown; the errors of each call are collected (``_watching``) so
that "unknown" and "could not ask" stay apart.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ldap
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_auth_ldap.backend import LDAPBackend, ldap_error, populate_user
from django_auth_ldap.config import (
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    NestedActiveDirectoryGroupType,
    PosixGroupType,
)

from accounts.authentication import SignInUnavailable
from accounts.models import User
from audit.actions import Action
from audit.services import audit_record

from .models import DirectoryAccount

UNREACHABLE_MESSAGE = gettext_lazy(
    "Your organisation's directory could not be reached, so your password could not be checked. "
    "Try again in a few minutes."
)
# AbstractUser.username's max_length: a longer directory name cannot be an account here.
USERNAME_MAX_LENGTH = 150
# [MS-ADTS] §2.2.16 userAccountControl bits: ADS_UF_ACCOUNTDISABLE.
AD_ACCOUNT_DISABLED = 0x0002
# Every user attribute, and the entry's own identifier, which is operational in OpenLDAP and so
# read only when named: entryUUID (RFC 4530 §2), objectGUID ([MS-ADA3] Object-Guid). A server
# that knows one of the names returns it and ignores the other.
USER_ATTRIBUTES = ["*", "entryUUID", "objectGUID"]

# PORCHLIGHT_LDAP_GROUP_TYPE: django-auth-ldap's group type, and the object class its groups have.
GROUP_TYPES = {
    "groupOfNames": (GroupOfNamesType, "groupOfNames"),
    "groupOfUniqueNames": (GroupOfUniqueNamesType, "groupOfUniqueNames"),
    "posixGroup": (PosixGroupType, "posixGroup"),
    # Active Directory groups contain groups: membership through any of them counts.
    "activeDirectory": (NestedActiveDirectoryGroupType, "group"),
}


def _config() -> Any:
    """Return ``settings.PORCHLIGHT_LDAP`` (settings.LdapSettings): directory sign-in is on here."""
    config = django_settings.PORCHLIGHT_LDAP
    if config is None:
        raise ImproperlyConfigured("Directory sign-in is off: PORCHLIGHT_LDAP_URI is not set")
    return config


class DirectoryUnreachable(Exception):
    """The directory did not answer (down, too slow, refused the service account's bind)."""


class _Discard(Exception):
    """Roll back what this sign-in or sync wrote: the person is not let in."""


def backend_settings(config: Any) -> dict[str, Any]:
    """Return django-auth-ldap's settings for ``config`` (``settings.PORCHLIGHT_LDAP``)."""
    timeout = config["TIMEOUT"]
    # Referrals off: Active Directory answers searches of the domain root with referrals that
    # libldap would chase anonymously. Timeouts: an unreachable directory fails in seconds.
    options: dict[int, Any] = {
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
    }
    if config["CA_FILE"]:
        options[ldap.OPT_X_TLS_CACERTFILE] = config["CA_FILE"]
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        # Last: makes this connection's TLS context from the options above.
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    values: dict[str, Any] = {
        "SERVER_URI": config["URI"],
        "BIND_DN": config["BIND_DN"],
        "BIND_PASSWORD": config["BIND_PASSWORD"],
        "START_TLS": config["START_TLS"],
        "CONNECTION_OPTIONS": options,
        "USER_ATTR_MAP": dict(config["ATTR_MAP"]),
        "ALWAYS_UPDATE_USER": True,
        "USER_ATTRLIST": USER_ATTRIBUTES,
    }
    if config["USER_DN_TEMPLATE"]:
        values["USER_DN_TEMPLATE"] = config["USER_DN_TEMPLATE"]
    else:
        values["USER_SEARCH"] = LDAPSearch(
            config["USER_SEARCH_BASE"], ldap.SCOPE_SUBTREE, config["USER_FILTER"], attrlist=USER_ATTRIBUTES
        )
    if config["GROUP_SEARCH_BASE"]:
        group_type, object_class = GROUP_TYPES[config["GROUP_TYPE"]]
        values["GROUP_SEARCH"] = LDAPSearch(
            config["GROUP_SEARCH_BASE"], ldap.SCOPE_SUBTREE, f"(objectClass={object_class})"
        )
        values["GROUP_TYPE"] = group_type()
    if config["REQUIRE_GROUP"]:
        values["REQUIRE_GROUP"] = config["REQUIRE_GROUP"]
    if config["DENY_GROUP"]:
        values["DENY_GROUP"] = config["DENY_GROUP"]
    return values


# The directory errors django-auth-ldap reported during the current call (None: nobody is asking).
_reported: contextvars.ContextVar[list[Exception] | None] = contextvars.ContextVar(
    "directory_errors", default=None
)


def _collect(sender: Any, exception: Exception, **kwargs: Any) -> None:
    reported = _reported.get()
    if reported is not None:
        reported.append(exception)


ldap_error.connect(_collect, dispatch_uid="porchlight-directory-errors")


@contextmanager
def _watching() -> Iterator[list[Exception]]:
    """Collect the directory errors reported inside the block."""
    reported: list[Exception] = []
    token = _reported.set(reported)
    try:
        yield reported
    finally:
        _reported.reset(token)


def _fit_fields(sender: Any, user: User, ldap_user: Any, **kwargs: Any) -> None:
    """Fit the attributes just copied onto ``user`` to its fields, and judge its e-mail address."""
    config = _config()
    for field_name in config["ATTR_MAP"]:
        field = User._meta.get_field(field_name)
        value = getattr(user, field_name)
        if isinstance(value, str) and field.max_length is not None:  # type: ignore[union-attr]
            setattr(user, field_name, value[: field.max_length])  # type: ignore[union-attr]
    previous = User.objects.filter(pk=user.pk).values_list("email", flat=True).first() if user.pk else None
    if config["TRUST_EMAIL"]:
        # The organisation vouches for the addresses in its directory.
        user.email_verified = bool(user.email)
    elif previous != user.email:
        # A new address has not been confirmed by anyone yet (OIDC Core 1.0 §5.1 email_verified).
        user.email_verified = False


populate_user.connect(_fit_fields, dispatch_uid="porchlight-directory-fields")


def _attribute(attrs: dict[str, list[str]] | None, name: str) -> list[str]:
    """Return the values of attribute ``name`` (attribute names are case-insensitive, RFC 4512 §2.5)."""
    for key, values in (attrs or {}).items():
        if key.lower() == name.lower():
            return list(values)
    return []


def _entry_id(attrs: dict[str, list[Any]] | None) -> str:
    """Return the entry's own identifier (entryUUID, or objectGUID as hex), or "" if it has none."""
    for value in _attribute(attrs, "entryUUID"):
        return str(value).strip().lower()
    for value in _attribute(attrs, "objectGUID"):
        # Binary: django-auth-ldap leaves it bytes, unless the bytes happened to be valid UTF-8.
        return (value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")).hex()
    return ""


class DirectoryBackend(LDAPBackend):
    """django-auth-ldap configured from ``settings.PORCHLIGHT_LDAP`` (the PORCHLIGHT_LDAP_* variables)."""

    # Nothing is read from AUTH_LDAP_* settings: every value comes from backend_settings(), through
    # the two attributes django-auth-ldap gives subclasses for a collection of settings of their own.
    settings_prefix = "PORCHLIGHT_DIRECTORY_BACKEND_"

    @property
    def default_settings(self) -> dict[str, Any]:
        return backend_settings(_config())

    # --- Django's backend API -------------------------------------------------------------------

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        """Return the directory account ``username`` signs in to with ``password``, or None."""
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            return None
        username = username.strip()
        if not username or len(username) > USERNAME_MAX_LENGTH or self._held_locally(username):
            return None
        # Two first sign-ins of one person at once: the second finds the account the first made.
        for attempt in range(2):
            try:
                return self._authenticate_once(request, username, password)
            except IntegrityError:
                if attempt:
                    raise
        return None

    def get_user(self, user_id):  # type: ignore[no-untyped-def]
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    # --- What accounts/ asks every backend ------------------------------------------------------

    def password_managed_elsewhere(self, user: User) -> str:
        """Say why ``user`` cannot change their password here, or "" when it is not the directory's."""
        if user.pk is not None and DirectoryAccount.objects.filter(user_id=user.pk).exists():
            return _(
                "Your password is the one your organisation's directory keeps: change it the way "
                "your organisation tells you to. It cannot be changed here."
            )
        return ""

    # --- The scheduled sync (services.directory_accounts_sync) ---------------------------------

    def directory_check(self) -> None:
        """Bind as the service account and read the search base; raise DirectoryUnreachable if that fails."""
        config = _config()
        base = config["USER_SEARCH_BASE"] or config["USER_DN_TEMPLATE"].split(",", 1)[-1]
        try:
            connection = self.ldap.initialize(config["URI"], bytes_mode=False)
            for option, value in self.settings.CONNECTION_OPTIONS.items():
                connection.set_option(option, value)
            if config["START_TLS"]:
                connection.start_tls_s()
            connection.simple_bind_s(config["BIND_DN"], config["BIND_PASSWORD"])
            connection.search_s(base, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
            connection.unbind_s()
        except ldap.LDAPError as exc:
            raise DirectoryUnreachable(type(exc).__name__) from None

    def account_sync(self, account: DirectoryAccount) -> str:
        """Read ``account``'s entry again and update it; return why it must be deactivated, or "".

        Raises DirectoryUnreachable when the directory did not answer: then nothing is judged.
        """
        with _watching() as reported:
            try:
                with transaction.atomic():
                    user = self.populate_user(account.user.get_username())
                    gone = [error for error in reported if self._entry_missing(error)]
                    if len(gone) < len(reported):
                        raise DirectoryUnreachable(type(reported[0]).__name__)
                    if user is None:
                        raise _Discard
                    refusal = self._refusal(user)
                    self._record(user, request=None)
                    return refusal
            except _Discard:
                return "removed from the directory"
            except ldap.LDAPError as exc:
                raise DirectoryUnreachable(type(exc).__name__) from None

    # --- Inside ---------------------------------------------------------------------------------

    def _held_locally(self, username: str) -> bool:
        # django-auth-ldap finds accounts by username case-insensitively; so does this.
        return User.objects.filter(username__iexact=username, directory_account__isnull=True).exists()

    def _entry_missing(self, error: Exception) -> bool:
        # With a DN template the entry is read by its DN: a deleted one is NO_SUCH_OBJECT (the
        # sync checked the template's parent exists first). With a search it is no result at all.
        return isinstance(error, ldap.NO_SUCH_OBJECT) and bool(self.settings.USER_DN_TEMPLATE)

    def _authenticate_once(self, request: Any, username: str, password: str) -> User | None:
        with _watching() as reported:
            try:
                with transaction.atomic():
                    user = super().authenticate(request, username=username, password=password)
                    if reported:
                        raise DirectoryUnreachable(type(reported[0]).__name__)
                    if user is None or not user.is_active or self._refusal(user):
                        raise _Discard
                    self._record(user, request=request)
                    return user
            except _Discard:
                return None
            except (DirectoryUnreachable, ldap.LDAPError) as exc:
                error = exc.args[0] if isinstance(exc, DirectoryUnreachable) else type(exc).__name__
                audit_record(
                    action=Action.DIRECTORY_UNREACHABLE,
                    target=username,
                    actor_label="directory sign-in",
                    detail={"error": error},
                    request=request,
                )
                raise SignInUnavailable(str(UNREACHABLE_MESSAGE)) from None

    def _refusal(self, user: User) -> str:
        """Return why the directory no longer lets this person in, or ""."""
        ldap_user = user.ldap_user  # type: ignore[attr-defined]
        # The username now names another entry than the one this account was made from (the
        # person left, the name was given to someone new): not theirs to sign in to.
        known = DirectoryAccount.objects.filter(user_id=user.pk).values_list("entry_id", flat=True).first()
        current = _entry_id(ldap_user.attrs)
        if known and current and known != current:
            return "replaced by another entry in the directory"
        for value in _attribute(ldap_user.attrs, "userAccountControl"):
            if value.strip().isdigit() and int(value) & AD_ACCOUNT_DISABLED:
                return "disabled in the directory"
        required, denied = self.settings.REQUIRE_GROUP, self.settings.DENY_GROUP
        if required or denied:
            groups = {dn.lower() for dn in ldap_user.group_dns}
            if required and required.lower() not in groups:
                return "not in the directory group that may sign in"
            if denied and denied.lower() in groups:
                return "in the directory group that may not sign in"
        return ""

    def _record(self, user: User, *, request: Any) -> None:
        """Note ``user`` as a directory account read now, and put them in their mapped groups."""
        # django-auth-ldap hangs the entry it read on the user it returns.
        ldap_user = user.ldap_user  # type: ignore[attr-defined]
        dn = ldap_user.dn or ""
        values = {"dn": dn, "synced": timezone.now()}
        # The identifier is kept from the first reading on, never replaced (_refusal compares
        # with it); accounts made before it was read learn it at their next reading.
        known = DirectoryAccount.objects.filter(user_id=user.pk).values_list("entry_id", flat=True).first()
        if not known and (entry_id := _entry_id(ldap_user.attrs)):
            values["entry_id"] = entry_id
        account, created = DirectoryAccount.objects.update_or_create(user=user, defaults=values)
        if created:
            audit_record(
                action=Action.DIRECTORY_ACCOUNT_CREATE,
                target=user,
                actor_label="directory sign-in",
                detail={"dn": dn},
                request=request,
            )
        mapping = _config()["GROUP_MAP"]
        if mapping:
            member_of = {dn.lower() for dn in ldap_user.group_dns}
            for group_dn, name in mapping.items():
                group, _created = Group.objects.get_or_create(name=name)
                if group_dn.lower() in member_of:
                    user.groups.add(group)
                else:
                    # Only the mapped groups follow the directory; staff's other groups stay.
                    user.groups.remove(group)
