"""Forms for the account pages."""

import re
from zoneinfo import available_timezones

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from . import throttling
from .models import User


class LoginForm(AuthenticationForm):
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
        # Checked before authenticating, so a locked account or IP is refused even with the
        # right password, and the refusal reads the same whether or not the account exists.
        decision = throttling.throttle_check(request=self.request, username=username)
        if not decision.allowed:
            raise forms.ValidationError(decision.message, code="throttled")
        try:
            cleaned_data = super().clean()
        except forms.ValidationError:
            decision = throttling.throttle_failure(request=self.request, username=username)
            if not decision.allowed:
                raise forms.ValidationError(decision.message, code="throttled") from None
            raise
        throttling.throttle_success(request=self.request, username=username, kind="password")
        return cleaned_data


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
