"""Passkeys and security keys (WebAuthn), on django-otp-webauthn's credential device.

django-otp-webauthn runs the ceremonies (its browser script and the py_webauthn checks); these
subclasses decide who the ceremony is for and what a success means here:

- ``register``: the signed-in user adds a passkey (from the MFA page, or when a policy asks);
- ``verify``: the second factor for a pending login (or a step-up of the signed-in user);
- ``login``: a passkey alone, with user verification, signs its owner in (no username typed).
"""

import json
from base64 import urlsafe_b64decode

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.middleware import csrf
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn import exceptions, views
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import AbstractWebAuthnCredential, WebAuthnCredential

from ..authentication import AuthenticatedHttpRequest
from ..recent_auth import recently_authenticated
from ..throttling import throttle_attempt, throttle_failure, throttle_success
from . import flows, recovery_codes

# WebAuthn Level 3 §6.1: authenticator data flags, byte 32 after the 32-byte RP ID hash.
FLAG_USER_VERIFIED = 0x04


class Throttled(exceptions.OTPWebAuthnApiError):
    status_code = 429
    code = "throttled"


def user_verified(assertion: dict) -> bool:
    """Return whether the (already verified) assertion says the authenticator verified the user."""
    data = assertion.get("response", {}).get("authenticatorData", "")
    raw = urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return len(raw) > 32 and bool(raw[32] & FLAG_USER_VERIFIED)


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's helper, naming new credentials the way the MFA page lists them."""

    def create_credential(self, user, response, parsed_credential, original_data):
        device = super().create_credential(user, response, parsed_credential, original_data)
        roaming = {"usb", "nfc", "ble"}.intersection(device.transports or [])
        device.name = "Security key" if roaming else "Passkey"
        return device


class ReauthenticationRequired(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "reauthentication_required"
    default_detail = _("For your security, sign in again before adding a passkey.")


class RecentSignInMixin(views.RegistrationCeremonyMixin):
    """Adding a passkey, like every change to how one signs in, needs a fresh sign-in (recent_auth)."""

    request: HttpRequest

    def check_can_register(self) -> None:
        super().check_can_register()
        if not recently_authenticated(self.request):
            raise ReauthenticationRequired()


class RegisterBegin(RecentSignInMixin, views.BeginCredentialRegistrationView):
    pass


class RegisterComplete(RecentSignInMixin, views.CompleteCredentialRegistrationView):
    # Registering needs a signed-in user (and, here, a recent sign-in).
    request: AuthenticatedHttpRequest

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        device = WebAuthnCredential.objects.get(user=self.request.user, pk=json.loads(response.content)["id"])
        flows.device_enrolled(self.request, device=device, method=flows.Method.PASSKEY)
        # The first authenticator comes with recovery codes, shown once on the next page.
        if not recovery_codes.recovery_codes_remaining(self.request.user):
            flows.recovery_codes_issue(self.request)
        return response


class VerifyBegin(views.BeginCredentialAuthenticationView):
    """Start the second-factor ceremony, offering only the pending user's credentials."""

    def get_user(self):
        user = flows.second_factor_user(self.request)
        if user is None:
            raise exceptions.NotAuthenticated()
        return user


class VerifyComplete(views.CompleteCredentialAuthenticationView):
    """Finish the second-factor ceremony; failures count against the account's login throttle."""

    def get_user(self):
        user = flows.second_factor_user(self.request)
        if user is None:
            raise exceptions.NotAuthenticated()
        return user

    def post(self, *args, **kwargs):
        user = self.get_user()
        attempt = throttle_attempt(request=self.request, username=user.get_username(), kind="second_factor")
        if not attempt.allowed:
            flows.second_factor_failure_record(
                self.request, user=user, method=flows.Method.PASSKEY, reason="locked"
            )
            raise Throttled(detail=attempt.decision.message)
        try:
            response = super().post(*args, **kwargs)
        except exceptions.OTPWebAuthnApiError:
            flows.second_factor_failure_record(
                self.request, user=user, method=flows.Method.PASSKEY, reason="invalid"
            )
            throttle_failure(attempt=attempt)
            raise
        throttle_success(attempt=attempt)
        return response

    def complete_auth(self, device: AbstractWebAuthnCredential) -> AbstractBaseUser:
        user = self.get_user()
        flows.second_factor_complete(self.request, user=user, device=device, method=flows.Method.PASSKEY)
        return user


class LoginBegin(views.BeginCredentialAuthenticationView):
    """Start a passwordless ceremony: no user is known, so user verification is required."""

    def get_user(self):
        return None


class LoginComplete(views.CompleteCredentialAuthenticationView):
    def get_user(self):
        return None

    def complete_auth(self, device: AbstractWebAuthnCredential) -> AbstractBaseUser:
        # django-otp-webauthn's BaseWebAuthnView.dispatch sets request.data (the parsed JSON body).
        assertion = self.request.data  # type: ignore[attr-defined]
        flows.passkey_login(self.request, device=device, user_verified=user_verified(assertion))
        return device.user


def ceremony_config(request: HttpRequest, *, purpose: str) -> dict:
    """Return the settings django-otp-webauthn's browser script reads, pointed at our endpoints."""
    config = {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
    }
    if purpose == "register":
        config["beginRegistrationUrl"] = reverse("accounts:mfa:passkey-register-begin")
        config["completeRegistrationUrl"] = reverse("accounts:mfa:passkey-register-complete")
    else:
        config["beginAuthenticationUrl"] = reverse(f"accounts:mfa:passkey-{purpose}-begin")
        config["completeAuthenticationUrl"] = reverse(f"accounts:mfa:passkey-{purpose}-complete")
    return config
