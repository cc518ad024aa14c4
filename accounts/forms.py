"""Forms for the account pages."""

import re
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf.locale import LANG_INFO
from django.contrib.auth import forms as auth_forms
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from audit.actions import Action
from audit.services import audit_record

from . import throttling
from .attributes import attribute_fields_add, attributes_from_form
from .authentication import SignInUnavailable
from .languages import user_language
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
        "invalid_login": gettext_lazy("The username or password is not correct."),
        "inactive": gettext_lazy("The username or password is not correct."),
    }

    username = forms.CharField(
        label=gettext_lazy("Username"),
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
        except SignInUnavailable as unavailable:
            # A directory account's password could not be checked: say so plainly, and count
            # the attempt neither way (local accounts never get here; their backend comes first).
            self._audit_failure(username, "directory unreachable")
            throttling.throttle_unjudged(attempt=attempt)
            raise forms.ValidationError(unavailable.message, code="unavailable") from None
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
        label=gettext_lazy("Stay signed in on this device"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Every other sign-in, and every app's access, ends either way."),
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

    def send_mail(self, subject_template_name: str, email_template_name: str, context: dict, *args, **kwargs):
        # In the language of the account it is for (its locale), else the page's (docs/languages.md).
        with translation.override(user_language(context["user"])):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)

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
        region, _slash, place = name.partition("/")
        label = place.replace("_", " ").replace("/", " / ") if place else name
        groups.setdefault(region if place else "Other", []).append((name, label))
    return [("", _("Not set")), *sorted(groups.items())]


# Regional variants people often choose, named in their own language as language pickers do;
# Django's LANG_INFO names the bare languages (and a few variants) the same way.
REGIONAL_LANGUAGES = {
    "de-AT": "Deutsch (Österreich)",
    "de-CH": "Deutsch (Schweiz)",
    "de-DE": "Deutsch (Deutschland)",
    "en-AU": "English (Australia)",
    "en-CA": "English (Canada)",
    "en-GB": "English (United Kingdom)",
    "en-IE": "English (Ireland)",
    "en-IN": "English (India)",
    "en-NZ": "English (New Zealand)",
    "en-US": "English (United States)",
    "en-ZA": "English (South Africa)",
    "es-AR": "español (Argentina)",
    "es-CO": "español (Colombia)",
    "es-ES": "español (España)",
    "es-MX": "español (México)",
    "es-US": "español (Estados Unidos)",
    "fr-BE": "français (Belgique)",
    "fr-CA": "français (Canada)",
    "fr-CH": "français (Suisse)",
    "fr-FR": "français (France)",
    "it-CH": "italiano (Svizzera)",
    "it-IT": "italiano (Italia)",
    "nl-BE": "Nederlands (België)",
    "nl-NL": "Nederlands (Nederland)",
    "pt-BR": "português (Brasil)",
    "pt-PT": "português (Portugal)",
}


def language_choices(current: str = "") -> list[tuple[str, str]]:
    """Return language tags (en-GB, pt-BR, zh-Hans) as <select> choices, named in their own language.

    The values stay the tags (BCP 47, as OIDC Core 1.0 §5.1 ``locale`` asks); a stored tag not
    in the list is kept, named after its language where that is known.
    """
    choices = {}
    for code, info in LANG_INFO.items():
        if "name" not in info:
            continue  # a fallback entry, not a language
        choices[bcp47_case(code)] = info.get("name_local") or info["name"]
    choices.update(REGIONAL_LANGUAGES)
    if current and current not in choices:
        language = LANG_INFO.get(current.split("-")[0].lower(), {})
        name = language.get("name_local") or language.get("name")
        choices[current] = f"{name} ({current})" if name else current
    return [("", _("Not set")), *sorted(choices.items(), key=lambda item: item[1].casefold())]


def bcp47_case(code: str) -> str:
    """Return ``code`` cased as BCP 47 §2.1.1 recommends: region upper case, script title case."""
    language, *rest = code.split("-")
    return "-".join([language.lower(), *(part.upper() if len(part) == 2 else part.title() for part in rest)])


# The profile page's sections, in order: (slug, title, fields); each field is in exactly one.
# Each section is its own form with its own Save, and saves only its fields.
PROFILE_FIELDSETS = [
    (
        "name",
        gettext_lazy("Name"),
        ["first_name", "middle_name", "last_name", "nickname", "preferred_username"],
    ),
    ("contact", gettext_lazy("Contact"), ["email", "phone_number"]),
    (
        "address",
        gettext_lazy("Address"),
        [
            "address_street_address",
            "address_locality",
            "address_region",
            "address_postal_code",
            "address_country",
        ],
    ),
    ("language", gettext_lazy("Language and region"), ["locale", "zoneinfo"]),
    ("about", gettext_lazy("About you"), ["birthdate", "gender", "picture", "profile", "website"]),
]
# The attributes staff defined (accounts/attributes.py), when there are any.
ATTRIBUTES_SECTION = "more"


class ProfileForm(forms.ModelForm):
    """The claim fields a user may edit about themselves (OIDC Core 1.0 §5.1), in plain words."""

    profile = forms.URLField(
        label=gettext_lazy("Page about you"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy(
            "A page where people can read more about you, e.g. https://example.com/about/alice"
        ),
    )
    picture = forms.URLField(
        label=gettext_lazy("Photo"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("The address of a picture of you, e.g. https://example.com/alice.jpg"),
    )
    website = forms.URLField(
        label=gettext_lazy("Website"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("e.g. https://alice.example.com"),
    )

    class Meta:
        model = User
        fields = [name for _, _title, names in PROFILE_FIELDSETS for name in names]
        labels = {
            "first_name": gettext_lazy("First name"),
            "middle_name": gettext_lazy("Middle name"),
            "last_name": gettext_lazy("Last name"),
            "nickname": gettext_lazy("Nickname"),
            "preferred_username": gettext_lazy("Username shown to apps"),
            "email": gettext_lazy("E-mail address"),
            "phone_number": gettext_lazy("Phone number"),
            "address_street_address": gettext_lazy("Street address"),
            "address_locality": gettext_lazy("Town or city"),
            "address_region": gettext_lazy("County, state or province"),
            "address_postal_code": gettext_lazy("Postcode"),
            "address_country": gettext_lazy("Country"),
            "locale": gettext_lazy("Language"),
            "zoneinfo": gettext_lazy("Time zone"),
            "birthdate": gettext_lazy("Date of birth"),
            "gender": gettext_lazy("Gender"),
        }
        help_texts = {
            "first_name": gettext_lazy("Also called given name, e.g. Alice"),
            "last_name": gettext_lazy("Also called family name or surname, e.g. Liddell"),
            "nickname": gettext_lazy("What friends call you, e.g. Al"),
            "preferred_username": gettext_lazy(
                "e.g. alice.l — left empty, apps see the name you sign in with"
            ),
            "email": gettext_lazy("Changing it sends a link to the new address, to confirm it is yours."),
            "phone_number": gettext_lazy("Include the country code, e.g. +44 20 7946 0000"),
            "address_street_address": gettext_lazy("House number and street, e.g. 12 High Street"),
            "address_region": gettext_lazy("Only where addresses use one, e.g. California"),
            "address_postal_code": gettext_lazy("Or ZIP code, e.g. OX1 2JD"),
            "address_country": gettext_lazy("e.g. United Kingdom"),
            "locale": gettext_lazy("The language apps should use with you"),
            "zoneinfo": gettext_lazy("Apps use it to show you times in your local time"),
            "gender": gettext_lazy("In your own words, e.g. female, male, non-binary"),
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

    def __init__(self, *args, request: HttpRequest, section: str | None = None, **kwargs) -> None:
        """Make the whole profile's form or, given a ``section`` slug, that section's alone."""
        super().__init__(*args, **kwargs)
        self.request = request
        self.section = section
        # Lists to choose from; the stored values stay the standard tags (IANA names, BCP 47),
        # and the checks below still apply to whatever is posted.
        self.fields["zoneinfo"].widget = forms.Select(choices=time_zone_choices(self.instance.zoneinfo))
        self.fields["locale"].widget = forms.Select(choices=language_choices(self.instance.locale))
        # The attributes staff defined (accounts/attributes.py); those users may not edit are
        # shown disabled, and Django keeps their stored value whatever is posted.
        self.attribute_fields = attribute_fields_add(self, self.instance.attributes or {}, editable_only=True)
        if section is not None:
            # One section: the other fields are not in the form, so what is saved leaves them be.
            keep = set(self.section_fields(section))
            for name in list(self.fields):
                if name not in keep:
                    del self.fields[name]
            self.attribute_fields = [name for name in self.attribute_fields if name in keep]

    def section_fields(self, section: str) -> list[str]:
        """Return the names of the fields in ``section``; [] for no such section."""
        if section == ATTRIBUTES_SECTION:
            return list(self.attribute_fields)
        return next((names for slug, _title, names in PROFILE_FIELDSETS if slug == section), [])

    @classmethod
    def sections(cls) -> list[tuple[str, str]]:
        """Return the page's sections as (slug, title), the attributes staff defined last."""
        titles = [(slug, str(title)) for slug, title, _names in PROFILE_FIELDSETS]
        return [*titles, (ATTRIBUTES_SECTION, _("More about you"))]

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Return the form's groups with their bound fields; the attributes staff defined last."""
        groups = [
            (str(title), [self[name] for name in names if name in self.fields])
            for _slug, title, names in PROFILE_FIELDSETS
        ]
        if self.attribute_fields:
            groups.append((_("More about you"), [self[name] for name in self.attribute_fields]))
        return [(title, fields) for title, fields in groups if fields]

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
            raise forms.ValidationError(_("Use a time zone name such as Europe/Paris."))
        return value

    def clean_phone_number(self) -> str:
        # OIDC Core 1.0 §5.1: E.164 is RECOMMENDED for phone_number.
        value = self.cleaned_data["phone_number"].replace(" ", "")
        if value and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise forms.ValidationError(_("Use international format, e.g. +44 20 7946 0000."))
        return value

    def clean_locale(self) -> str:
        value = self.cleaned_data["locale"]
        if value and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
            raise forms.ValidationError(_("Use a language tag such as en-GB."))
        return value

    def update_fields(self) -> list[str] | None:
        """Return the columns a save writes: a section's own (and what follows from them), else all.

        A section's Save leaves the other fields as stored, even if they changed in another tab
        since this page was shown.
        """
        if self.section is None:
            return None
        columns = {field.name for field in User._meta.concrete_fields}
        # What follows from this section's fields: a new address is unverified, attributes are
        # stored together, and the profile's updated_at (auto_now) moves with every save.
        follows = {"email": "email_verified", "phone_number": "phone_number_verified"}
        derived = [follows[name] for name in self.fields if name in follows]
        if self.attribute_fields:
            derived.append("attributes")
        return [*(name for name in self.fields if name in columns), *derived, "updated_at"]

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        # A changed address is no longer verified (email_verified / phone_number_verified).
        if "email" in self.changed_data:
            user.email_verified = False
        if "phone_number" in self.changed_data:
            user.phone_number_verified = False
        user.attributes = attributes_from_form(self, user.attributes or {})
        if commit:
            user.save(update_fields=self.update_fields())
        return user
