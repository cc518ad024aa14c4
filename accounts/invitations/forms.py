"""The admin's forms for inviting one person, or many from a CSV file."""

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_CSV_BYTES = 1024 * 1024


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), help_text=_("The invitation, with a link to choose a password, goes here.")
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        required=False,
        help_text=_("What they sign in with. Leave blank to use the e-mail address."),
    )


class InviteImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with a first line naming the columns: email, and any of first_name, "
            "last_name, username. Everyone is invited, or no one if a line is wrong."
        ),
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError(_("The file is not UTF-8 text (save it as “CSV UTF-8”).")) from error
