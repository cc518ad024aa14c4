"""Admin forms for clients: grant types as choices, and a write-only secret."""

from django import forms
from django.core.exceptions import ValidationError

from .hashers import client_secret_problem
from .models import Client, GrantType


class ClientAdminForm(forms.ModelForm):
    grant_types = forms.MultipleChoiceField(
        choices=GrantType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
    )
    new_client_secret = forms.CharField(
        label="New client secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the current secret (or, for a new client, to generate a strong one "
        "that is shown once after saving). A secret you type must be at least 32 random characters.",
    )

    class Meta:
        model = Client
        fields = [
            "name",
            "client_type",
            "grant_types",
            "redirect_uris",
            "post_logout_redirect_uris",
            "allowed_origins",
            "skip_authorization",
            "algorithm",
            "access_token_format",
            "may_introspect",
            "require_mfa",
            "user",
        ]

    def clean_new_client_secret(self) -> str:
        secret = self.cleaned_data["new_client_secret"]
        if secret:
            problem = client_secret_problem(secret)
            if problem:
                raise ValidationError(problem)
        return secret

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("client_type") == Client.CLIENT_PUBLIC and cleaned.get("new_client_secret"):
            self.add_error("new_client_secret", "A public client has no secret.")
        if cleaned.get("client_type") == Client.CLIENT_PUBLIC and GrantType.CLIENT_CREDENTIALS in cleaned.get(
            "grant_types", []
        ):
            self.add_error("grant_types", "A public client cannot use client_credentials.")
        return cleaned
