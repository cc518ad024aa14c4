"""Forms for the account pages."""

import re
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf.locale import LANG_INFO
from django.contrib.auth import forms as auth_forms
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_stubs_ext import StrOrPromise

from audit.actions import Action
from audit.services import audit_record

from . import throttling
from .attributes import attribute_fields_add, attributes_from_form
from .models import User
from .recent_auth import recently_authenticated


def current_password_clean(*, request: HttpRequest, user: User, password: str, message: StrOrPromise) -> str:
    """Check the signed-in ``user``'s password, counted like a login; raise ``message`` if wrong."""
    # A stolen session must not become an unthrottled password oracle (and the answer is the
    # key to changing the password or removing the last factor).
    attempt = throttling.throttle_attempt(request=request, username=user.get_username())
    if not attempt.allowed:
        raise forms.ValidationError(attempt.decision.message, code="throttled")
    if not user.check_password(password):
        audit_record(action=Action.PASSWORD_CHECK_FAILURE, target=user, actor=user, request=request)
        decision = throttling.throttle_failure(attempt=attempt)
        if not decision.allowed:
            raise forms.ValidationError(decision.message, code="throttled")
        raise forms.ValidationError(message, code="password_incorrect")
    throttling.throttle_success(attempt=attempt)
    return password


def username_hint(value: str | None) -> str:
    """Return a login_hint (OIDC Core 1.0 §3.1.2.1) fit to pre-fill the username field, else "".

    Longer than any username (AbstractUser's 150 characters) or unprintable, it is no username.
    """
    hint = (value or "").strip()
    return hint if len(hint) <= 150 and hint.isprintable() else ""


class LoginForm(auth_forms.AuthenticationForm):
    # LoginView always passes the request: attempts are counted per client address.
    request: HttpRequest

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
        # About the account when the username names one (so its owner sees the attempt), else
        # the username as typed; never the password.
        account = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        audit_record(
            action=Action.LOGIN_FAILURE,
            target=account or username,
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

    # Narrower than Django's: the request is required (mails are counted per client address), and
    # PasswordResetView passes every argument by keyword.
    def save(self, *, request: HttpRequest, **kwargs: Any) -> None:  # type: ignore[override]
        # The page answers the same either way, so it says nothing about the limit (or the
        # account); only the mail is not sent.
        email = self.cleaned_data["email"]
        sent = throttling.throttle_password_reset(request=request, email=email)
        if sent:
            super().save(request=request, **kwargs)
        audit_record(
            action=Action.PASSWORD_RESET_REQUEST,
            target=email,
            actor_label="password reset form",
            detail={"limited": not sent},
            request=request,
        )


def time_zone_choices(current: str = "") -> list:
    """Return the time zones as <select> choices, grouped by region ("Europe" → "London")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    names = available_timezones() | ({current} if current else set())
    for name in sorted(names):
        region, _, place = name.partition("/")
        label = place.replace("_", " ").replace("/", " / ") if place else name
        groups.setdefault(region if place else "Other", []).append((name, label))
    return [("", "Not set"), *sorted(groups.items())]


def language_choices(current: str = "") -> list[tuple[str, str]]:
    """Return language tags (en-GB, pt-BR, zh-Hans) with their names, as <select> choices."""
    choices = {}
    for code, info in LANG_INFO.items():
        if "name" not in info:
            continue  # a fallback entry, not a language
        language, *rest = code.split("-")
        # BCP 47 §2.1.1 casing: region subtags upper case, script subtags title case.
        tag = "-".join([language, *(part.upper() if len(part) == 2 else part.title() for part in rest)])
        local = info.get("name_local", "")
        choices[tag] = info["name"] if not local or local == info["name"] else f"{info['name']} ({local})"
    if current and current not in choices:
        choices[current] = current
    return [("", "Not set"), *sorted(choices.items(), key=lambda item: item[1].casefold())]


# The profile page's groups, in order; each field is in exactly one.
PROFILE_FIELDSETS = [
    ("Name", ["first_name", "middle_name", "last_name", "nickname", "preferred_username"]),
    ("Contact", ["email", "phone_number"]),
    (
        "Address",
        [
            "address_street_address",
            "address_locality",
            "address_region",
            "address_postal_code",
            "address_country",
        ],
    ),
    ("Language and region", ["locale", "zoneinfo"]),
    ("About you", ["birthdate", "gender", "picture", "profile", "website"]),
]


class ProfileForm(forms.ModelForm):
    """The claim fields a user may edit about themselves (OIDC Core 1.0 §5.1), in plain words."""

    profile = forms.URLField(
        label="Page about you",
        required=False,
        assume_scheme="https",
        help_text="A page where people can read more about you, e.g. https://example.com/about/alice",
    )
    picture = forms.URLField(
        label="Photo",
        required=False,
        assume_scheme="https",
        help_text="The address of a picture of you, e.g. https://example.com/alice.jpg",
    )
    website = forms.URLField(
        label="Website", required=False, assume_scheme="https", help_text="e.g. https://alice.example.com"
    )

    class Meta:
        model = User
        fields = [name for _, names in PROFILE_FIELDSETS for name in names]
        labels = {
            "first_name": "First name",
            "middle_name": "Middle name",
            "last_name": "Last name",
            "nickname": "Nickname",
            "preferred_username": "Username shown to apps",
            "email": "E-mail address",
            "phone_number": "Phone number",
            "address_street_address": "Street address",
            "address_locality": "Town or city",
            "address_region": "County, state or province",
            "address_postal_code": "Postcode",
            "address_country": "Country",
            "locale": "Language",
            "zoneinfo": "Time zone",
            "birthdate": "Date of birth",
            "gender": "Gender",
        }
        help_texts = {
            "first_name": "Also called given name, e.g. Alice",
            "last_name": "Also called family name or surname, e.g. Liddell",
            "nickname": "What friends call you, e.g. Al",
            "preferred_username": "e.g. alice.l — left empty, apps see the name you sign in with",
            "email": "Changing it sends a link to the new address, to confirm it is yours.",
            "phone_number": "Include the country code, e.g. +44 20 7946 0000",
            "address_street_address": "House number and street, e.g. 12 High Street",
            "address_region": "Only where addresses use one, e.g. California",
            "address_postal_code": "Or ZIP code, e.g. OX1 2JD",
            "address_country": "e.g. United Kingdom",
            "locale": "The language apps should use with you",
            "zoneinfo": "Apps use it to show you times in your local time",
            "gender": "In your own words, e.g. female, male, non-binary",
        }
        widgets = {
            "birthdate": forms.DateInput(attrs={"type": "date"}),
            "phone_number": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "address_street_address": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "address_postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "address_country": forms.TextInput(attrs={"autocomplete": "country-name"}),
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
        }

    def __init__(self, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        # Lists to choose from; the stored values stay the standard tags (IANA names, BCP 47),
        # and the checks below still apply to whatever is posted.
        self.fields["zoneinfo"].widget = forms.Select(choices=time_zone_choices(self.instance.zoneinfo))
        self.fields["locale"].widget = forms.Select(choices=language_choices(self.instance.locale))
        # The attributes staff defined (accounts/attributes.py); those users may not edit are
        # shown disabled, and Django keeps their stored value whatever is posted.
        self.attribute_fields = attribute_fields_add(self, self.instance.attributes or {}, editable_only=True)

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Return the page's groups with their bound fields; the attributes staff defined last."""
        groups = [(title, [self[name] for name in names]) for title, names in PROFILE_FIELDSETS]
        if self.attribute_fields:
            groups.append((_("More about you"), [self[name] for name in self.attribute_fields]))
        return groups

    def clean_email(self) -> str:
        value = self.cleaned_data["email"]
        # Password reset links go to this address: changing it changes how one can sign in, so
        # it needs a fresh sign-in like every such change (accounts/recent_auth.py).
        if value != self.initial.get("email") and not recently_authenticated(self.request):
            raise forms.ValidationError(
                _(
                    "To change the address that password reset links go to, sign in again first "
                    "(for your security). Your other changes can be saved without it."
                ),
                code="reauthentication_required",
            )
        return value

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
        user.attributes = attributes_from_form(self, user.attributes or {})
        if commit:
            user.save()
        return user
