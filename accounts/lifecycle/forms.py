from django import forms
from django.utils.translation import gettext_lazy as _


class AccountDeleteForm(forms.Form):
    """The explicit "yes" that closing one's account needs (the page says what it means)."""

    confirm = forms.BooleanField(
        label=_("I understand that my account will be closed now and erased after the waiting period."),
        error_messages={"required": _("Tick the box to confirm that you want your account deleted.")},
    )
