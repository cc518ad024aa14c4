"""Forms for the MFA pages. Codes are checked by the flows, which own throttling."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..authentication import AuthenticatedHttpRequest
from ..forms import current_password_clean
from .flows import Method

CODE_ATTRS = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "autofocus": True,
    "spellcheck": "false",
}


class DescribedForm(forms.Form):
    """A form whose inputs point at their help text (aria-describedby), as the templates render it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{self[name].auto_id}_help"


class TOTPCodeForm(DescribedForm):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs=CODE_ATTRS),
        help_text=_("Six digits, changing every 30 seconds."),
    )


class RecoveryCodeForm(DescribedForm):
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}),
        help_text=_("One of the codes you saved when you set up two-step sign-in. Each works once."),
    )


SECOND_FACTOR_FORMS = {Method.TOTP: TOTPCodeForm, Method.RECOVERY: RecoveryCodeForm}


class RenameDeviceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)


class RemoveDeviceForm(forms.Form):
    """Confirm removal; the password is asked for only when the last factor would go."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(
        self, *args: Any, request: AuthenticatedHttpRequest, needs_password: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.needs_password = needs_password
        if not needs_password:
            del self.fields["password"]

    def clean_password(self) -> str:
        # Counted like a login: removing the last factor with a guessed password would undo MFA.
        return current_password_clean(
            request=self.request,
            user=self.request.user,
            password=self.cleaned_data.get("password", ""),
            message=_("That is not your current password."),
        )
