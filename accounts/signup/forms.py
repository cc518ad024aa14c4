"""The sign-up form, and the form that confirms a sign-up with its password."""

from django import forms
from django.contrib.auth import password_validation
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..forms import ProfileForm, current_password_clean
from ..models import User
from . import policy


class SignUpDetailsForm(ProfileForm):
    """The profile fields staff chose (each required) and, with a terms URL, accepting the terms.

    The fields are the profile page's, with its checks (time zone, phone number, ...). An
    invitation's page uses this form alone (PORCHLIGHT_SIGNUP=invite); the sign-up page adds the
    address and the password.
    """

    # Fields of the subclass kept besides the chosen ones.
    own_fields: tuple[str, ...] = ()

    def __init__(self, *args, request: HttpRequest, instance: User, **kwargs) -> None:
        super().__init__(*args, request=request, instance=instance, **kwargs)
        keep = {*self.own_fields, *policy.signup_fields()}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        self.attribute_fields = []
        for field in self.fields.values():
            field.required = True
        url = policy.terms_url()
        if url:
            self.fields["terms"] = forms.BooleanField(
                label=format_html(
                    '{} <a href="{}" target="_blank" rel="noopener">{}</a>',
                    _("I accept the"),
                    url,
                    _("terms of use"),
                ),
                required=True,
                error_messages={"required": _("You can only sign up if you accept the terms of use.")},
            )

    @staticmethod
    def asks_anything() -> bool:
        """Return whether the form has anything to ask (fields chosen, or terms to accept)."""
        return bool(policy.signup_fields() or policy.terms_url())

    def profile_values(self) -> dict[str, object]:
        """Return the profile fields as cleaned, for the account."""
        return {name: self.cleaned_data[name] for name in policy.signup_fields() if name in self.cleaned_data}


class SignUpForm(SignUpDetailsForm):
    """The sign-up page: the address, the details staff chose, a password (twice), the terms."""

    own_fields = ("email", "password1", "password2")

    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    password2 = forms.CharField(
        label=_("The same password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(*args, request=request, instance=User(), **kwargs)
        self.fields["email"].help_text = _("We send a link there: your account works once you open it.")
        self.fields["email"].widget.attrs["autofocus"] = True

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        # The username is the address: it must fit as one.
        if len(email) > User._meta.get_field("username").max_length:  # type: ignore[operator]
            raise forms.ValidationError(_("This address is too long."), code="too_long")
        if not policy.email_domain_allowed(email):
            raise forms.ValidationError(
                _("Only addresses at %(domains)s can sign up here.")
                % {"domains": ", ".join(policy.email_domains())},
                code="domain",
            )
        return email

    def clean(self):
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            # The validators see the person as they described themselves (name, address).
            user = User(username=cleaned.get("email") or "", **self.profile_values())
            user.email = cleaned.get("email") or ""
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class SignUpConfirmForm(forms.Form):
    """The password chosen at sign-up: only the person who chose it can make the account theirs."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args, request: HttpRequest, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request, self.user = request, user

    def clean_password(self) -> str:
        # Counted like a login (accounts/throttling.py), so the link is no password oracle.
        return current_password_clean(
            request=self.request,
            user=self.user,
            password=self.cleaned_data["password"],
            message=_("This is not the password chosen when signing up."),
        )
