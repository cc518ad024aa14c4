"""MFA pages: the second-factor step, enrollment, recovery codes and the device list.

Each page works without JavaScript: choosing another method is a link, every action a form.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp_webauthn.models import WebAuthnCredential

from audit.actions import Action
from audit.services import audit_record

from ..authentication import AuthenticatedHttpRequest
from ..recent_auth import recent_authentication_required
from . import flows, policy, recovery_codes, totp
from .forms import SECOND_FACTOR_FORMS, RemoveDeviceForm, RenameDeviceForm, TOTPCodeForm
from .models import TOTPAuthenticator

DEVICE_MODELS: dict[str, type[TOTPAuthenticator] | type[WebAuthnCredential]] = {
    "totp": TOTPAuthenticator,
    "passkey": WebAuthnCredential,
}


def safe_next(request: HttpRequest) -> str:
    """Return the ``next`` parameter if it stays on this site, else the account page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("accounts:home")


def with_next(url: str, target: str) -> str:
    query = QueryDict(mutable=True)
    query["next"] = target
    return f"{url}?{query.urlencode()}"


def authenticate_url(target: str) -> str:
    """Return the second-factor step's URL, going on to ``target``."""
    return with_next(reverse("accounts:mfa:authenticate"), target)


# --- the second-factor step -------------------------------------------------------------------


@never_cache
def authenticate(request: HttpRequest) -> HttpResponse:
    """Ask the pending (or signed-in, stepping-up) user for a second factor."""
    target = safe_next(request)
    user = flows.second_factor_user(request)
    if user is None:
        messages.info(request, _("Your sign-in took too long. Please enter your password again."))
        return redirect(with_next(reverse("accounts:login"), target))
    methods = flows.available_methods(user)
    if not methods:
        if request.user.is_authenticated:
            return redirect(with_next(reverse("accounts:mfa:totp-enroll"), target))
        return redirect(with_next(reverse("accounts:login"), target))
    try:
        method = flows.Method(request.POST.get("method") or request.GET.get("method") or methods[0])
    except ValueError:
        method = methods[0]
    if method not in methods:
        method = methods[0]
    # A passkey is checked by its own JSON endpoints (passkeys.py); this page only offers it.
    form_class = SECOND_FACTOR_FORMS.get(method)
    form = form_class(request.POST if request.method == "POST" else None) if form_class else None
    if request.method == "POST" and form is not None and form.is_valid():
        result = flows.second_factor_verify(request, user=user, method=method, code=form.cleaned_data["code"])
        if result.device is not None:
            flows.second_factor_complete(request, user=user, device=result.device, method=method)
            return redirect(target)
        if result.throttle.allowed:
            form.add_error("code", _("That code is not correct. Check it and try again."))
        else:
            form.add_error(None, result.throttle.message)
    others = [
        (other, with_next(reverse("accounts:mfa:authenticate"), target) + f"&method={other}")
        for other in methods
        if other != method
    ]
    return render(
        request,
        "accounts/mfa/authenticate.html",
        {"form": form, "method": method, "others": others, "next": target},
    )


# --- enrollment -------------------------------------------------------------------------------


@never_cache
@login_required
@recent_authentication_required
def totp_enroll(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Show a new key as a QR code and as text; a first code from the app confirms it."""
    target = safe_next(request)
    if TOTPAuthenticator.objects.devices_for_user(request.user, confirmed=True).exists():
        messages.info(request, _("An authenticator app is already set up."))
        return redirect(target)
    device = totp.totp_device_pending(request.user)
    form = TOTPCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if flows.totp_activate(request, device=device, code=form.cleaned_data["code"]):
            messages.success(request, _("Your authenticator app is set up."))
            if flows.NEW_CODES_KEY in request.session:
                return redirect(with_next(reverse("accounts:mfa:recovery-codes"), target))
            return redirect(target)
        form.add_error("code", _("That code is not correct. Check the time on your phone and try again."))
    return render(
        request,
        "accounts/mfa/totp_enroll.html",
        {
            "form": form,
            "qr_code": totp.qr_code_svg(device),
            "manual_key": totp.manual_key(device),
            "next": target,
            "required": request.GET.get("required") == "1" or request.POST.get("required") == "1",
        },
    )


@never_cache
@login_required
@recent_authentication_required
def recovery_codes_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Show newly made recovery codes once (GET), or make a new set (POST)."""
    target = safe_next(request)
    if request.method == "POST":
        if not policy.primary_devices(request.user):
            messages.error(request, _("Set up an authenticator first; recovery codes back it up."))
            return redirect("accounts:mfa:index")
        flows.recovery_codes_issue(request)
        return redirect(with_next(reverse("accounts:mfa:recovery-codes"), target))
    codes = flows.recovery_codes_take(request)
    if not codes:
        return redirect(target if "next" in request.GET else "accounts:mfa:index")
    return render(request, "accounts/mfa/recovery_codes.html", {"codes": codes, "next": target})


@never_cache
@login_required
@recent_authentication_required
def passkey_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Offer to register a passkey; the browser script does it, then goes on (needs JavaScript)."""
    target = safe_next(request)
    return render(
        request,
        "accounts/mfa/passkey_add.html",
        {
            "next": target,
            "continue_url": with_next(reverse("accounts:mfa:recovery-codes"), target),
            "required": request.GET.get("required") == "1",
        },
    )


# --- the device list --------------------------------------------------------------------------


@never_cache
@login_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """List the user's authenticators and recovery codes, with what can be done to each."""
    devices = [
        {"kind": "passkey" if isinstance(device, WebAuthnCredential) else "totp", "device": device}
        for device in policy.primary_devices(request.user)
    ]
    return render(
        request,
        "accounts/mfa/index.html",
        {
            "devices": devices,
            "has_totp": any(entry["kind"] == "totp" for entry in devices),
            "has_passkey": any(entry["kind"] == "passkey" for entry in devices),
            "recovery_codes_remaining": recovery_codes.recovery_codes_remaining(request.user),
            "mfa_required": policy.mfa_required(request.user),
        },
    )


def _device_or_404(
    request: AuthenticatedHttpRequest, kind: str, pk: int
) -> TOTPAuthenticator | WebAuthnCredential:
    model = DEVICE_MODELS.get(kind)
    device = model.objects.filter(user=request.user, pk=pk, confirmed=True).first() if model else None
    if not device:
        raise Http404("No such device.")
    return device


@require_POST
@login_required
@recent_authentication_required(return_to="accounts:mfa:index")
def device_rename(request: AuthenticatedHttpRequest, kind: str, pk: int) -> HttpResponse:
    device = _device_or_404(request, kind, pk)
    form = RenameDeviceForm(request.POST)
    if form.is_valid():
        old = device.name
        flows.device_rename(device=device, name=form.cleaned_data["name"])
        # Recorded here, not in the flow: staff renaming a device is audited as user.device_rename.
        audit_record(
            action=Action.MFA_DEVICE_RENAME,
            target=request.user,
            actor=request.user,
            detail={"device": device.persistent_id, "from": old, "to": device.name},
            request=request,
        )
        messages.success(request, _("Renamed to “%(name)s”.") % {"name": device.name})
    else:
        messages.error(request, _("Give the device a name of at most 64 characters."))
    return redirect("accounts:mfa:index")


@never_cache
@login_required
@recent_authentication_required
def device_remove(request: AuthenticatedHttpRequest, kind: str, pk: int) -> HttpResponse:
    """Confirm and remove a device; removing the last one takes the current password."""
    device = _device_or_404(request, kind, pk)
    last = flows.device_is_last_factor(request.user, device)
    form = RemoveDeviceForm(
        request.POST if request.method == "POST" else None, request=request, needs_password=last
    )
    if request.method == "POST" and form.is_valid():
        detail = {"device": device.persistent_id, "name": device.name, "last": last}
        flows.device_remove(user=request.user, device=device)
        # Recorded here, not in the flow: staff removing a device is audited as user.device_remove.
        audit_record(
            action=Action.MFA_DEVICE_REMOVE,
            target=request.user,
            actor=request.user,
            detail=detail,
            request=request,
        )
        messages.success(request, _("Removed “%(name)s”.") % {"name": device.name})
        return redirect("accounts:mfa:index")
    return render(request, "accounts/mfa/device_remove.html", {"form": form, "device": device, "last": last})
