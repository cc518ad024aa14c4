from django.urls import path

from . import views

app_name = "oidc_provider"

urlpatterns = [
    path("authorize/", views.AuthorizeView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("userinfo/", views.UserInfoView.as_view(), name="userinfo"),
    path("jwks/", views.JwksView.as_view(), name="jwks"),
    path("logout/", views.EndSessionView.as_view(), name="end-session"),
    path("introspect/", views.IntrospectionView.as_view(), name="introspect"),
    path("revoke/", views.RevokeTokenView.as_view(), name="revoke"),
]
