from django.urls import include, path

from . import views

app_name = "oidc_provider"

# The protocol endpoints, under /o/ (the malformed-request middleware guards that prefix).
protocol_patterns = [
    path("authorize/", views.AuthorizeView.as_view(), name="authorize"),
    # The consent page's answer: a form of ours, unlike authorization requests, so CSRF-checked.
    path("authorize/consent/", views.ConsentAnswerView.as_view(), name="consent"),
    # prompt=select_account's "Use another account" (CSRF-checked, like the consent answer).
    path("authorize/select-account/", views.SelectAccountView.as_view(), name="select-account"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("userinfo/", views.UserInfoView.as_view(), name="userinfo"),
    path("jwks/", views.JwksView.as_view(), name="jwks"),
    path("logout/", views.EndSessionView.as_view(), name="end-session"),
    path("introspect/", views.IntrospectionView.as_view(), name="introspect"),
    path("revoke/", views.RevokeTokenView.as_view(), name="revoke"),
    path("register/", views.RegistrationView.as_view(), name="register"),
    # RFC 7592 §3 registration_client_uri: a self-registered client manages its registration here.
    path("register/<str:client_id>/", views.ClientConfigurationView.as_view(), name="client-configuration"),
    path("device/", views.DeviceAuthorizationView.as_view(), name="device-authorization"),
]

urlpatterns = [
    path("o/", include(protocol_patterns)),
    # A page for people, beside the account pages rather than among the protocol endpoints.
    path("account/apps/", views.ConnectedAppsView.as_view(), name="connected-apps"),
    path(
        "account/apps/<int:consent_id>/revoke/",
        views.ConnectedAppRevokeView.as_view(),
        name="connected-app-revoke",
    ),
    # RFC 8628 §3.2 verification_uri: short, for people to type from a device's screen.
    path("device/", views.DeviceView.as_view(), name="device"),
    path("device/confirm/", views.DeviceConfirmView.as_view(), name="device-confirm"),
]
