"""Admin forms for clients: grant types as choices, and a write-only secret."""

from django import forms
from django.core.exceptions import ValidationError

from .hashers import client_secret_problem
from .models import Algorithm, Client, GrantType


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
        if self._needs_new_secret_for_hs256(cleaned):
            self.add_error(
                "new_client_secret",
                "HS256 signs with the client secret: set or reset the secret in the same change.",
            )
        return cleaned

    def _needs_new_secret_for_hs256(self, cleaned: dict) -> bool:
        # Only a hash of an existing secret is kept, so the HMAC key (OIDC Core 1.0 §10.1)
        # must arrive with the change. A client without a secret gets one generated on save.
        instance = self.instance
        return (
            cleaned.get("algorithm") == Algorithm.HS256
            and cleaned.get("client_type") == Client.CLIENT_CONFIDENTIAL
            and not cleaned.get("new_client_secret")
            and instance.pk is not None
            and bool(instance.client_secret)
            and not instance.client_secret_encrypted
        )
