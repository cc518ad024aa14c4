from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import language_set
from oidc_provider.views import DiscoveryView
from ops import health, metrics

# A database outage or a missing signing key answers 503 with Retry-After, not a 500 (outage.py).
handler500 = "ops.outage.server_error"

urlpatterns = [
    # Probes and metrics for operators (README "Deployment"); no session, no database for /healthz.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path(".well-known/openid-configuration", DiscoveryView.as_view(), name="openid-configuration"),
    # Some clients append a slash to the issuer's well-known path; the same document answers.
    path(".well-known/openid-configuration/", DiscoveryView.as_view()),
    # RFC 8414 §3: the same metadata at OAuth's well-known path (an issuer without a path).
    path(
        ".well-known/oauth-authorization-server", DiscoveryView.as_view(), name="oauth-authorization-server"
    ),
    # The protocol endpoints under /o/ and the Connected apps page at /account/apps/.
    path("", include("oidc_provider.urls")),
    # Before accounts.urls: the invitation link's page (accounts/invitations/).
    path("accounts/invitation/", include("accounts.invitations.urls")),
    path("accounts/", include("accounts.urls")),
    # SCIM 2.0 provisioning (RFC 7644), for the bearer tokens of provisioning clients only.
    path("scim/v2/", include("scim.urls")),
    # "Sign in with …" another identity provider: start, callback, linking, back-channel logout.
    path("upstream/", include("upstream.urls")),
    # The language switcher on every page for people not signed in (Django's set_language).
    path("i18n/setlang/", language_set, name="set_language"),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="accounts:home", permanent=False)),
]
