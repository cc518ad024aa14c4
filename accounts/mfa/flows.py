"""The MFA steps views call: the pending login, the second-factor check, enrollment, removal.

The second factor is checked before Django's ``login()``: a password alone leaves the user in a
short-lived pending state in the session, not signed in, so no page (and no authorization
request) ever sees a half-authenticated user.
"""

import json
import time
from dataclasses import dataclass
from enum import StrEnum

import django_otp
from django.contrib.auth import get_user_model, login
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp_webauthn.models import AbstractWebAuthnCredential

from audit.actions import Action
from audit.services import audit_record

from .. import encryption
from ..authentication import AuthContext, AuthenticatedHttpRequest, get_auth_context
from ..security_notices import Change, security_notice_send
from ..sessions import record_authentication, record_factor_added
from ..throttling import ALLOWED, ThrottleDecision, throttle_attempt, throttle_failure, throttle_success
from . import policy, recovery_codes, totp
from .models import RecoveryCodeDevice, TOTPAuthenticator

PENDING_KEY = "porchlight_mfa_pending"
# Long enough to find the phone and read a code; short enough that an unattended screen
# with a typed password soon needs the password again.
PENDING_LIFETIME = 5 * 60
NEW_CODES_KEY = "porchlight_mfa_new_codes"


class Method(StrEnum):
    TOTP = "totp"
    PASSKEY = "passkey"
    RECOVERY = "recovery"


# RFC 8176 §2: "otp" is a one-time password; a recovery code is one too (a single-use shared
# secret, used up on use), so both report "otp". record_authentication adds "mfa".
AMR = {Method.TOTP: "otp", Method.RECOVERY: "otp"}


def passkey_amr(device: AbstractWebAuthnCredential) -> str:
    """Return the RFC 8176 value for proof of possession of this passkey's key.

    A backup-eligible (synced) passkey's private key is copied between devices by software, so
    it is "swk" (software-secured key); a device-bound one (a security key, a platform
    authenticator's secure element) is "hwk" (hardware-secured key).
    """
    return "swk" if device.backup_eligible else "hwk"


def method_amr(method: Method, device: Device) -> str:
    if method == Method.PASSKEY and isinstance(device, AbstractWebAuthnCredential):
        return passkey_amr(device)
    return AMR[method]


# --- the pending login -------------------------------------------------------------------


def login_pending_start(request: HttpRequest, *, user, first_factors: list[str]) -> None:
    """Hold ``user`` (who passed ``first_factors``) in the session until the second factor."""
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", None),
        "amr": first_factors,
        "expires": int(time.time()) + PENDING_LIFETIME,
    }


def login_pending_user(request: HttpRequest):
    """Return the user waiting for a second factor, or None if there is none or it expired."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if pending.get("expires", 0) < time.time():
        request.session.pop(PENDING_KEY, None)
        return None
    pk = pending.get("user")
    if pk is None:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def second_factor_user(request: HttpRequest):
    """Return whom the second-factor step is for: a pending login, else the signed-in user."""
    pending = login_pending_user(request)
    if pending is not None:
        return pending
    return request.user if request.user.is_authenticated else None


def available_methods(user) -> list[Method]:
    """Return the second-factor methods ``user`` can use, preferred first."""
    methods = []
    if TOTPAuthenticator.objects.devices_for_user(user, confirmed=True).exists():
        methods.append(Method.TOTP)
    if policy.passkeys(user):
        methods.append(Method.PASSKEY)
    if recovery_codes.recovery_codes_remaining(user):
        methods.append(Method.RECOVERY)
    return methods


# --- the second-factor step ------------------------------------------------------------------


@dataclass(frozen=True)
class SecondFactorResult:
    device: Device | None
    # Why the attempt was refused, when the login throttle refused it (or locks after it).
    throttle: ThrottleDecision = ALLOWED


def second_factor_verify(request: HttpRequest, *, user, method: Method, code: str) -> SecondFactorResult:
    """Check ``code`` with ``method``, counting failures against the account's login throttle."""
    attempt = throttle_attempt(request=request, username=user.get_username(), kind="second_factor")
    if not attempt.allowed:
        # Not even tried: a locked account must not use up a recovery code.
        second_factor_failure_record(request, user=user, method=method, reason="locked")
        return SecondFactorResult(None, attempt.decision)
    device: Device | None
    if method == Method.TOTP:
        device = totp.totp_verify(user, code)
    else:
        device = recovery_codes.recovery_code_verify(user, code)
    if device is None:
        second_factor_failure_record(request, user=user, method=method, reason="invalid")
        return SecondFactorResult(None, throttle_failure(attempt=attempt))
    # The whole login succeeded: both the password and the second-factor counts are cleared.
    throttle_success(attempt=attempt)
    return SecondFactorResult(device)


def second_factor_failure_record(request: HttpRequest, *, user, method: Method, reason: str) -> None:
    """Audit a refused or wrong second factor (never the code that was typed)."""
    audit_record(
        action=Action.MFA_FAILURE,
        target=user,
        actor_label="second-factor step",
        detail={"method": method, "reason": reason},
        request=request,
    )


def second_factor_complete(request: HttpRequest, *, user, device: Device, method: Method) -> AuthContext:
    """Sign ``user`` in (or step the session up) after ``device`` accepted a second factor."""
    pending = request.session.pop(PENDING_KEY, None)
    signing_in = isinstance(pending, dict) and pending.get("user") == user.pk
    if signing_in:
        first_factors = list(pending.get("amr") or ["pwd"])
        login(request, user, backend=pending.get("backend"))
    else:
        # Step-up: the session's user adds a factor to those they signed in with. login() gave
        # a signed-in session a new key; a stepped-up one needs its own (session fixation).
        context = get_auth_context(request)
        first_factors = [m for m in (context.amr if context else []) if m != "mfa"]
        request.session.cycle_key()
    django_otp.login(request, device)
    context = record_authentication(request, [*first_factors, method_amr(method, device)])
    detail = {"method": method, "device": device.persistent_id, "step_up": not signing_in}
    if method == Method.RECOVERY:
        detail["remaining"] = recovery_codes.recovery_codes_remaining(user)
    used = Action.RECOVERY_CODE_USE if method == Method.RECOVERY else Action.MFA_VERIFY
    audit_record(action=used, target=user, actor=user, detail=detail, request=request)
    if signing_in:
        login_success_record(request, user=user, context=context)
    return context


def login_success_record(request: HttpRequest, *, user, context: AuthContext) -> None:
    """Audit a completed sign-in, with how the user authenticated (RFC 8176 amr) and its sid."""
    audit_record(
        action=Action.LOGIN_SUCCESS,
        target=user,
        actor=user,
        detail={"amr": context.amr, "sid": context.session_id},
        request=request,
    )


def passkey_login(
    request: HttpRequest, *, device: AbstractWebAuthnCredential, user_verified: bool
) -> AuthContext:
    """Sign in the owner of ``device`` with that passkey alone (no password).

    RFC 8176 §2: "hwk"/"swk" for the key; "user" when the authenticator verified the user (by PIN
    or biometric, which it does not say), making the passkey two factors in one, so "mfa" too.
    """
    request.session.pop(PENDING_KEY, None)
    # The passkey was verified here; Django's backend only reloads the user on later requests.
    login(request, device.user, backend="django.contrib.auth.backends.ModelBackend")
    django_otp.login(request, device)
    methods = [passkey_amr(device), "user"] if user_verified else [passkey_amr(device)]
    context = record_authentication(request, methods)
    login_success_record(request, user=device.user, context=context)
    return context


# --- enrollment ------------------------------------------------------------------------------


def totp_activate(request: AuthenticatedHttpRequest, *, device: TOTPAuthenticator, code: str) -> bool:
    """Confirm the TOTP device with its first code; give the user recovery codes if they have none."""
    if not totp.totp_device_confirm(device, code):
        return False
    device.refresh_from_db()
    device_enrolled(request, device=device, method=Method.TOTP)
    if not recovery_codes.recovery_codes_remaining(request.user):
        recovery_codes_issue(request)
    return True


def device_enrolled(request: AuthenticatedHttpRequest, *, device: Device, method: Method) -> None:
    """Record that the signed-in user added ``device``: audited, mailed, and held by the session.

    Adding it proved the session holds the factor, so the session's ``amr`` (and acr "mfa") says
    so, as the login step would; ``auth_time`` stays the sign-in's (``record_factor_added``).
    """
    device_added_record(request, device=device, kind="passkey" if method == Method.PASSKEY else "totp")
    # The session now carries acr "mfa": give it a new key, so a key planted or read before
    # the enrollment does not inherit it (session fixation).
    request.session.cycle_key()
    django_otp.login(request, device)
    record_factor_added(request, method_amr(method, device))
    security_notice_send(
        user=request.user,
        change=Change.PASSKEY_ADDED if method == Method.PASSKEY else Change.TOTP_ADDED,
        detail=_("Its name: %(name)s.") % {"name": device.name},
    )


def recovery_codes_issue(request: AuthenticatedHttpRequest) -> None:
    """Generate new recovery codes and keep them in the session until shown, once."""
    codes = recovery_codes.recovery_codes_generate(request.user)
    audit_record(
        action=Action.RECOVERY_CODES_GENERATE,
        target=request.user,
        actor=request.user,
        detail={"count": len(codes)},
        request=request,
    )
    # Sessions are stored in the database too: the codes wait there encrypted, not in the clear.
    request.session[NEW_CODES_KEY] = encryption.encrypt(json.dumps(codes).encode())
    security_notice_send(
        user=request.user,
        change=Change.RECOVERY_CODES,
        detail=_("Any recovery codes made before no longer work."),
    )


def recovery_codes_take(request: HttpRequest) -> list[str]:
    """Return the recovery codes waiting to be shown, removing them from the session."""
    waiting = request.session.pop(NEW_CODES_KEY, None)
    if not isinstance(waiting, str):
        return []
    try:
        return list(json.loads(encryption.decrypt(waiting)))
    except encryption.UndecryptableError:
        # The key-encryption key changed meanwhile; the user can make a new set.
        return []


# --- self-service ----------------------------------------------------------------------------


def device_added_record(request: AuthenticatedHttpRequest, *, device: Device, kind: str) -> None:
    """Audit that the signed-in user added an authenticator."""
    audit_record(
        action=Action.MFA_DEVICE_ADD,
        target=request.user,
        actor=request.user,
        detail={"kind": kind, "device": device.persistent_id, "name": device.name},
        request=request,
    )


def device_is_last_factor(user, device: Device) -> bool:
    """Return whether removing ``device`` would leave the user without a second factor."""
    return [d.persistent_id for d in policy.primary_devices(user)] == [device.persistent_id]


@transaction.atomic
def device_remove(*, user, device: Device) -> None:
    """Remove ``device``; with the last authenticator go the recovery codes, useless on their own."""
    last = device_is_last_factor(user, device)
    name = device.name
    device.delete()
    if last:
        RecoveryCodeDevice.objects.filter(user=user).delete()
    detail = _("It was called “%(name)s”.") % {"name": name}
    if last:
        detail += " " + _(
            "It was the last one: signing in now needs only the password, and the recovery codes are gone."
        )
    security_notice_send(user=user, change=Change.DEVICE_REMOVED, detail=detail)


def device_rename(*, device: Device, name: str) -> None:
    """Give ``device`` a name the user chose."""
    old, device.name = device.name, name
    device.save(update_fields=["name"])
    security_notice_send(
        user=device.user,
        change=Change.DEVICE_RENAMED,
        detail=_("“%(old)s” is now called “%(name)s”.") % {"old": old, "name": name},
    )
