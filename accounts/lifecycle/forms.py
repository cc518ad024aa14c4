from django import forms


class AccountDeleteForm(forms.Form):
    """The explicit "yes" that closing one's account needs (the page says what it means)."""

    confirm = forms.BooleanField(
        label="I understand that my account will be closed now and erased after the waiting period.",
        error_messages={"required": "Tick the box to confirm that you want your account deleted."},
    )
