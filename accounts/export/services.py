"""A person's copy of their data: one JSON document, prepared in the background, downloaded once.

GDPR Art. 15 (access) and Art. 20 (portability): the document holds the profile and its claim
fields, second factors, sign-in sessions, the person's own audit events and, through
``EXPORT_SECTIONS``, what other apps hold (oidc_provider adds consents, apps and tokens, since
accounts never imports it). Never a secret: no password hash, TOTP key, recovery code, passkey
public key or credential id, token value or token hash — every section lists the fields it
copies instead of dumping rows.

A request makes a ``DataExport`` and queues ``data_export_prepare`` in the same transaction; the
task worker (``manage.py db_worker``) builds the document and stores it encrypted. The download
carries a one-time token of which only the SHA-256 is stored; taking it clears the copy.
"""

import json
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_otp_webauthn.models import WebAuthnCredential
from django_tasks import task

from audit.actions import Action
from audit.services import audit_record, events_about
from ground.checksums import token_checksum

from .. import encryption
from ..languages import user_language
from ..models import DataExport, LoginSession, RecoveryCodeDevice, TOTPAuthenticator

logger = logging.getLogger(__name__)

FORMAT = "porchlight-data-export"
FORMAT_VERSION = 1

# Sections other apps add: name -> function of the user returning JSON-serialisable data.
# Filled at start-up (oidc_provider/apps.py), in the web server and the task worker alike.
EXPORT_SECTIONS: dict[str, Callable[[Any], Any]] = {}


class DataExportUnavailable(Exception):
    """The download token names no copy that can be taken (any more)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        # "unknown", "used" or "expired".
        self.reason = reason


# --- the document ------------------------------------------------------------------------


def _profile(user) -> dict:
    # The OIDC standard claims (OIDC Core 1.0 §5.1) under their claim names, every one present
    # even when empty, so the document says what Porchlight can hold as well as what it holds.
    return {
        "given_name": user.first_name,
        "middle_name": user.middle_name,
        "family_name": user.last_name,
        "nickname": user.nickname,
        "preferred_username": user.preferred_username,
        "profile": user.profile,
        "picture": user.picture,
        "website": user.website,
        "email": user.email,
        "email_verified": user.email_verified,
        "gender": user.gender,
        "birthdate": user.birthdate,
        "zoneinfo": user.zoneinfo,
        "locale": user.locale,
        "phone_number": user.phone_number,
        "phone_number_verified": user.phone_number_verified,
        # OIDC Core 1.0 §5.1.1.
        "address": user.address_parts(),
        "updated_at": user.updated_at,
        # The attributes staff define (accounts/attributes.py), by name, every stored value:
        # including one whose definition was removed, which no app is given any more.
        "attributes": dict(user.attributes or {}),
    }


def _account(user) -> dict:
    return {
        "username": user.get_username(),
        "subject": user.subject,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "has_password": user.has_usable_password(),
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "deletion_requested": user.deletion_requested,
        "erase_after": user.erase_after,
    }


def _devices(user) -> list[dict]:
    # Names, kinds and dates only: never a key, seed, code or credential (public key, id).
    devices = [
        {"kind": "authenticator app", **row}
        for row in TOTPAuthenticator.objects.filter(user=user).values(
            "name", "confirmed", "created_at", "last_used_at"
        )
    ]
    devices += [
        {"kind": "passkey or security key", **row}
        for row in WebAuthnCredential.objects.filter(user=user).values(
            "name", "confirmed", "created_at", "last_used_at"
        )
    ]
    for device in RecoveryCodeDevice.objects.filter(user=user):
        devices.append(
            {
                "kind": "recovery codes",
                "name": device.name,
                "confirmed": device.confirmed,
                "created_at": device.created_at,
                "last_used_at": device.last_used_at,
                "codes_left": device.codes.count(),
            }
        )
    return devices


def _sessions(user) -> list[dict]:
    # Never session_key: it is the browser's bearer credential.
    return [
        {
            "signed_in": row["created"],
            "last_seen": row["last_seen"],
            "expires": row["expires"],
            "ended": row["ended"],
            "end_reason": row["end_reason"],
            "authentication_methods": row["amr"],
            "ip": row["ip"],
            "browser": row["user_agent"],
        }
        for row in LoginSession.objects.filter(user=user)
        .order_by("created")
        .values("created", "last_seen", "expires", "ended", "end_reason", "amr", "ip", "user_agent")
    ]


def _audit_events(user) -> list[dict]:
    events = events_about(user).order_by("created", "pk")
    return [
        {
            "when": row["created"],
            "action": row["action"],
            "by": row["actor_label"],
            "target": row["target"],
            "detail": row["detail"],
            "ip": row["ip"],
            "browser": row["user_agent"],
        }
        for row in events.values("created", "action", "actor_label", "target", "detail", "ip", "user_agent")
    ]


def data_export_document(*, user) -> dict:
    """Return everything Porchlight holds about ``user``, as one JSON-serialisable document."""
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "generated_at": timezone.now(),
        "issuer": settings.ISSUER,
        "subject": user.subject,
        "account": _account(user),
        "profile": _profile(user),
        "mfa_devices": _devices(user),
        "sessions": _sessions(user),
    }
    for name, section in EXPORT_SECTIONS.items():
        document[name] = section(user)
    document["audit_events"] = _audit_events(user)
    return document


def data_export_json(*, user) -> str:
    """Return ``user``'s data export document as JSON text."""
    return json.dumps(data_export_document(user=user), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def data_export_filename(*, user) -> str:
    """Return the file name a download is saved under."""
    return f"porchlight-data-{user.get_username()}-{timezone.localdate():%Y-%m-%d}.json"


def data_export_direct(*, user, actor=None, actor_label: str = "", request: HttpRequest | None = None) -> str:
    """Build ``user``'s export at once for staff (``actor``) or a command (``actor_label``); audit it."""
    content = data_export_json(user=user)
    audit_record(
        action=Action.DATA_EXPORT_STAFF if actor is not None else Action.DATA_EXPORT_COMMAND,
        target=user,
        actor=actor,
        actor_label=actor_label,
        request=request,
    )
    return content


# --- requesting, preparing and taking a copy ------------------------------------------------


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.PORCHLIGHT["DATA_EXPORT_LIFETIME"])


def data_export_current(*, user) -> DataExport | None:
    """Return ``user``'s latest export, or None."""
    return DataExport.objects.filter(user=user).order_by("-requested", "-pk").first()


def data_export_token_matches(*, export: DataExport | None, token: str) -> bool:
    """Say whether ``token`` is the download token of ``export``."""
    return bool(
        export
        and token
        and export.token_hash
        and secrets.compare_digest(export.token_hash, token_checksum(token))
    )


@transaction.atomic
def data_export_request(*, user, requested_by, request: HttpRequest | None = None) -> tuple[DataExport, str]:
    """Queue a copy of ``user``'s data; return it and its one-time download token.

    While a copy is being prepared or ready, that copy is returned with a new token instead (the
    old one stops working), so a second request prepares nothing twice.
    """
    # One request per user at a time: two tabs must not both make a copy.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    token = secrets.token_urlsafe(32)
    export = (
        DataExport.objects.filter(user=user, status__in=[DataExport.Status.PENDING, DataExport.Status.READY])
        .filter(Q(status=DataExport.Status.PENDING) | Q(expires__gt=timezone.now()))
        .order_by("-requested")
        .first()
    )
    merged = export is not None
    if export is not None:
        export.token_hash = token_checksum(token)
        export.save(update_fields=["token_hash"])
    else:
        export = DataExport.objects.create(
            user=user, requested_by=requested_by, token_hash=token_checksum(token)
        )
        # The database backend writes the task row in this transaction: the task exists if and
        # only if the request commits (as oidc_provider/logout.py queues its deliveries).
        data_export_prepare.enqueue(export.pk)
    audit_record(
        action=Action.DATA_EXPORT_REQUEST,
        target=user,
        actor=requested_by,
        detail={"export": export.pk, "again": merged},
        request=request,
    )
    return export, token


def data_export_ready_notify(*, export: DataExport) -> None:
    """Tell the user by e-mail that their copy is ready (no link: they sign in to download it)."""
    user = export.user
    if not user.email:
        return
    context = {"user": user, "expires": export.expires, "site": settings.ISSUER}
    # In the language of the person it is for (their locale), whoever sends it.
    with translation.override(user_language(user)):
        subject = render_to_string("accounts/data_export_ready_subject.txt", context).strip()
        body = render_to_string("accounts/data_export_ready_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


@task()
def data_export_prepare(export_id: int) -> str:
    """Build the export ``export_id`` and store it encrypted, ready to download until it expires."""
    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or export.status != DataExport.Status.PENDING:
        return "skipped"
    try:
        payload = encryption.encrypt(data_export_json(user=export.user).encode())
    except Exception:
        DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(
            status=DataExport.Status.FAILED
        )
        raise
    now = timezone.now()
    # Never token_hash: a second request may have replaced it meanwhile.
    prepared = DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(
        status=DataExport.Status.READY, payload_encrypted=payload, ready=now, expires=now + _lifetime()
    )
    if not prepared:
        return "skipped"
    export.refresh_from_db()
    try:
        data_export_ready_notify(export=export)
    except OSError:
        # The copy is ready whether or not the mail went; the account page says so too.
        logger.warning("data export %s: could not send the ready e-mail", export_id, exc_info=True)
    return "ready"


def data_export_take(*, user, token: str, request: HttpRequest | None = None) -> str:
    """Return ``user``'s ready export named by ``token`` as JSON, once; the stored copy is cleared.

    Raises ``DataExportUnavailable`` when the token names no copy, or one already downloaded or
    expired.
    """
    if not token or len(token) > 100:
        raise DataExportUnavailable("unknown")
    export = DataExport.objects.filter(user=user, token_hash=token_checksum(token)).first()
    if export is None:
        raise DataExportUnavailable("unknown")
    now = timezone.now()
    if export.status == DataExport.Status.READY and export.expires and export.expires <= now:
        data_exports_expire()
        raise DataExportUnavailable("expired")
    if export.status != DataExport.Status.READY:
        raise DataExportUnavailable("expired" if export.status == DataExport.Status.EXPIRED else "used")
    payload = export.payload_encrypted
    # One conditional UPDATE both checks and spends the copy: of two downloads racing with the
    # same token, the database lets exactly one change the row.
    with transaction.atomic():
        taken = DataExport.objects.filter(
            pk=export.pk, status=DataExport.Status.READY, token_hash=export.token_hash, expires__gt=now
        ).update(status=DataExport.Status.DOWNLOADED, downloaded=now, payload_encrypted="")
        if not taken:
            raise DataExportUnavailable("used")
        audit_record(
            action=Action.DATA_EXPORT_DOWNLOAD,
            target=user,
            actor=user,
            detail={"export": export.pk},
            request=request,
        )
    return encryption.decrypt(payload).decode()


def data_exports_expire() -> int:
    """Clear the stored copies whose link has expired and mark them expired; return how many."""
    return DataExport.objects.filter(status=DataExport.Status.READY, expires__lte=timezone.now()).update(
        status=DataExport.Status.EXPIRED, payload_encrypted=""
    )
