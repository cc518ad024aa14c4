from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from oidc_provider.views import DiscoveryView

urlpatterns = [
    path(".well-known/openid-configuration", DiscoveryView.as_view(), name="openid-configuration"),
    # The protocol endpoints under /o/ and the Connected apps page at /account/apps/.
    path("", include("oidc_provider.urls")),
    # Before accounts.urls: the invitation link's page (accounts/invitations/).
    path("accounts/invitation/", include("accounts.invitations.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="accounts:home", permanent=False)),
]
