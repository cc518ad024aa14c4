"""Forms for the account pages."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


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
