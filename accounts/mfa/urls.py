from django.urls import path
from django.views.i18n import JavaScriptCatalog

from . import passkeys, views

app_name = "mfa"

urlpatterns = [
    path("", views.index, name="index"),
    path("authenticate/", views.authenticate, name="authenticate"),
    path("totp/", views.totp_enroll, name="totp-enroll"),
    path("recovery-codes/", views.recovery_codes_page, name="recovery-codes"),
    path("passkeys/add/", views.passkey_add, name="passkey-add"),
    path("devices/<str:kind>/<int:pk>/rename/", views.device_rename, name="device-rename"),
    path("devices/<str:kind>/<int:pk>/remove/", views.device_remove, name="device-remove"),
    # JSON endpoints for django-otp-webauthn's browser script.
    path("passkeys/register/begin/", passkeys.RegisterBegin.as_view(), name="passkey-register-begin"),
    path(
        "passkeys/register/complete/", passkeys.RegisterComplete.as_view(), name="passkey-register-complete"
    ),
    path("passkeys/verify/begin/", passkeys.VerifyBegin.as_view(), name="passkey-verify-begin"),
    path("passkeys/verify/complete/", passkeys.VerifyComplete.as_view(), name="passkey-verify-complete"),
    path("passkeys/login/begin/", passkeys.LoginBegin.as_view(), name="passkey-login-begin"),
    path("passkeys/login/complete/", passkeys.LoginComplete.as_view(), name="passkey-login-complete"),
    path(
        "passkeys/i18n.js",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="passkey-i18n",
    ),
]
