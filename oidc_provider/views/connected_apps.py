"""Connected apps: the apps a signed-in user has allowed, and revoking them (docs/design.md, gap 10)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.authentication import AuthenticatedHttpRequest

from ..claims import claim_description
from ..consent import consent_revoke, scope_descriptions
from ..models import Consent


@method_decorator(never_cache, name="dispatch")
class ConnectedAppsView(LoginRequiredMixin, View):
    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        consents = Consent.objects.filter(user=request.user).select_related("client")
        apps = [
            {
                "consent": consent,
                "scopes": scope_descriptions(consent.scopes),
                # Claims allowed by name (the claims parameter, OIDC Core 1.0 §5.5).
                "claims": [(claim, claim_description(claim)) for claim in consent.claims or []],
            }
            for consent in consents.order_by("client__name", "pk")
        ]
        return render(request, "oidc_provider/connected_apps.html", {"apps": apps})

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        # The confirmation page (ConnectedAppRevokeView) posts here: this is the revocation itself.
        consent_id = request.POST.get("consent", "")
        if not (consent_id.isascii() and consent_id.isdigit()):
            raise Http404
        consent = Consent.objects.select_related("client").filter(pk=consent_id).first()
        if consent is None:
            # Already revoked (a second click, another tab): the result the user wanted.
            messages.info(request, "That app was already disconnected.")
            return redirect("oidc_provider:connected-apps")
        if consent.user_id != request.user.pk:
            raise Http404
        consent_revoke(user=request.user, client=consent.client, request=request)
        messages.success(
            request,
            f"{consent.client.name or 'The app'} can no longer use your account. "
            "It will ask again if you sign in to it.",
        )
        return redirect("oidc_provider:connected-apps")


@method_decorator(never_cache, name="dispatch")
class ConnectedAppRevokeView(LoginRequiredMixin, View):
    """Ask "revoke this app?", saying what it loses; the answer posts to the Connected apps page."""

    def get(self, request: AuthenticatedHttpRequest, consent_id: int) -> HttpResponse:
        consent = Consent.objects.select_related("client").filter(pk=consent_id, user=request.user).first()
        if consent is None:
            messages.info(request, "That app is not connected to your account.")
            return redirect("oidc_provider:connected-apps")
        context = {
            "consent": consent,
            "name": consent.client.name or "Unnamed app",
            "scopes": scope_descriptions(consent.scopes),
            "offline": "offline_access" in consent.scopes,
            "told": bool(consent.client.backchannel_logout_uri),
        }
        return render(request, "oidc_provider/connected_app_revoke.html", context)
