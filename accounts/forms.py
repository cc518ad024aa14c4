"""Forms for the account pages."""

import re
from zoneinfo import available_timezones

from django import forms
from django.contrib.auth import forms as auth_forms
from django.http import HttpRequest

from audit.actions import Action
from audit.services import audit_record

from . import throttling
from .models import User


def current_password_clean(*, request: HttpRequest, user, password: str, message: str) -> str:
    """Check the signed-in ``user``'s password, counted like a login; raise ``message`` if wrong."""
    # A stolen session must not become an unthrottled password oracle (and the answer is the
    # key to changing the password or removing the last factor).
    attempt = throttling.throttle_attempt(request=request, username=user.get_username())
    if not attempt.allowed:
        raise forms.ValidationError(attempt.decision.message, code="throttled")
    if not user.check_password(password):
        audit_record(
            action=Action.PASSWORD_CHECK_FAILURE, target=user.get_username(), actor=user, request=request
        )
        decision = throttling.throttle_failure(attempt=attempt)
        if not decision.allowed:
            raise forms.ValidationError(decision.message, code="throttled")
        raise forms.ValidationError(message, code="password_incorrect")
    throttling.throttle_success(attempt=attempt)
    return password


class LoginForm(auth_forms.AuthenticationForm):
    error_messages = {
        # Never say whether the account exists.
        "invalid_login": "The username or password is not correct.",
        "inactive": "The username or password is not correct.",
    }

    username = forms.CharField(
        label="Username",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()
        # Counted before authenticating, so a locked account or IP is refused even with the right
        # password, concurrent guesses cannot outrun the count, and the refusal reads the same
        # whether or not the account exists.
        attempt = throttling.throttle_attempt(request=self.request, username=username)
        if not attempt.allowed:
            self._audit_failure(username, "locked")
            raise forms.ValidationError(attempt.decision.message, code="throttled")
        try:
            cleaned_data = super().clean()
        except forms.ValidationError:
            self._audit_failure(username, "invalid")
            decision = throttling.throttle_failure(attempt=attempt)
            if not decision.allowed:
                raise forms.ValidationError(decision.message, code="throttled") from None
            raise
        throttling.throttle_success(attempt=attempt)
        return cleaned_data

    def _audit_failure(self, username: str, reason: str) -> None:
        # The username as typed (it may name no account); never the password.
        audit_record(
            action=Action.LOGIN_FAILURE,
            target=username,
            actor_label="login form",
            detail={"reason": reason},
            request=self.request,
        )


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form, with the old password counted like a login."""

    keep_session = forms.BooleanField(
        label="Stay signed in on this device",
        required=False,
        initial=True,
        help_text="Every other sign-in, and every app's access, ends either way.",
    )

    def __init__(self, user, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        return current_password_clean(
            request=self.request,
            user=self.user,
            password=self.cleaned_data["old_password"],
            message=self.error_messages["password_incorrect"],
        )


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, sending at most so many mails per e-mail address and per client IP."""

    def save(self, *args, request: HttpRequest, **kwargs) -> None:
        # The page answers the same either way, so it says nothing about the limit (or the
        # account); only the mail is not sent.
        email = self.cleaned_data["email"]
        sent = throttling.throttle_password_reset(request=request, email=email)
        if sent:
            super().save(*args, request=request, **kwargs)
        audit_record(
            action=Action.PASSWORD_RESET_REQUEST,
            target=email,
            actor_label="password reset form",
            detail={"limited": not sent},
            request=request,
        )


class ProfileForm(forms.ModelForm):
    """The claim fields a user may edit about themselves (OIDC Core 1.0 §5.1)."""

    profile = forms.URLField(label="Profile page", required=False, assume_scheme="https")
    picture = forms.URLField(label="Picture", required=False, assume_scheme="https")
    website = forms.URLField(label="Website", required=False, assume_scheme="https")

    class Meta:
        model = User
        fields = [
            "first_name",
            "middle_name",
            "last_name",
            "nickname",
            "preferred_username",
            "email",
            "phone_number",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "address_street_address",
            "address_locality",
            "address_region",
            "address_postal_code",
            "address_country",
        ]
        labels = {"first_name": "Given name", "last_name": "Family name"}
        widgets = {"birthdate": forms.DateInput(attrs={"type": "date"})}

    def clean_zoneinfo(self) -> str:
        value = self.cleaned_data["zoneinfo"]
        if value and value not in available_timezones():
            raise forms.ValidationError("Use a time zone name such as Europe/Paris.")
        return value

    def clean_phone_number(self) -> str:
        # OIDC Core 1.0 §5.1: E.164 is RECOMMENDED for phone_number.
        value = self.cleaned_data["phone_number"].replace(" ", "")
        if value and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise forms.ValidationError("Use international format, e.g. +44 20 7946 0000.")
        return value

    def clean_locale(self) -> str:
        value = self.cleaned_data["locale"]
        if value and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
            raise forms.ValidationError("Use a language tag such as en-GB.")
        return value

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        # A changed address is no longer verified (email_verified / phone_number_verified).
        if "email" in self.changed_data:
            user.email_verified = False
        if "phone_number" in self.changed_data:
            user.phone_number_verified = False
        if commit:
            user.save()
        return user
