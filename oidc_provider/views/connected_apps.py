"""Connected apps: the apps a signed-in user has allowed, and revoking them (docs/design.md, gap 10)."""

from datetime import datetime
from typing import TypedDict
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django_stubs_ext import WithAnnotations

from accounts.authentication import AuthenticatedHttpRequest

from ..claims import claim_description
from ..consent import consent_revoke, scope_descriptions
from ..models import AccessToken, Client, Consent, RefreshToken
from ..names import host_shown


class _LastUse(TypedDict):
    last_access: datetime | None
    last_refresh: datetime | None


def consents_with_last_use(consents: QuerySet[Consent]) -> "QuerySet[WithAnnotations[Consent, _LastUse]]":
    """Annotate each consent with when its app last got a token for its user, in the same query.

    An access token is issued at every sign-in and every refresh, a refresh token at sign-in
    and rotation; the newer of the two is when the app last used the account.
    """

    def newest(model: type[AccessToken] | type[RefreshToken]) -> Subquery:
        tokens = model.objects.filter(user=OuterRef("user"), application=OuterRef("client"))
        return Subquery(tokens.order_by("-created").values("created")[:1])

    return consents.annotate(last_access=newest(AccessToken), last_refresh=newest(RefreshToken))


# Quoted: django-stubs-ext's WithAnnotations cannot be subscripted at run time on Python 3.11.
def last_used(consent: "WithAnnotations[Consent, _LastUse]") -> datetime | None:
    """Return when the app of an annotated ``consent`` last got a token for its user, if on record."""
    return max(
        (when for when in (consent.last_access, consent.last_refresh) if when is not None), default=None
    )


def app_home(client: Client) -> str:
    """Return the address of ``client``'s site: the scheme and host of its first return address."""
    # The host the consent page named (names.host_shown); a native app's custom scheme has none.
    first = (client.redirect_uris or "").split()
    parts = urlsplit(first[0]) if first else None
    if parts is None or parts.scheme not in {"http", "https"} or not host_shown(first[0]):
        return ""
    return f"{parts.scheme}://{parts.netloc}/"


@method_decorator(never_cache, name="dispatch")
class ConnectedAppsView(LoginRequiredMixin, View):
    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        consents = consents_with_last_use(Consent.objects.filter(user=request.user).select_related("client"))
        apps = [
            {
                "consent": consent,
                "home": app_home(consent.client),
                "last_used": last_used(consent),
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
            messages.info(request, _("That app was already disconnected."))
            return redirect("oidc_provider:connected-apps")
        if consent.user_id != request.user.pk:
            raise Http404
        consent_revoke(user=request.user, client=consent.client, request=request)
        messages.success(
            request,
            _("%(app)s can no longer use your account. It will ask again if you sign in to it.")
            % {"app": consent.client.name or _("The app")},
        )
        return redirect("oidc_provider:connected-apps")


@method_decorator(never_cache, name="dispatch")
class ConnectedAppRevokeView(LoginRequiredMixin, View):
    """Ask "revoke this app?", saying what it loses; the answer posts to the Connected apps page."""

    def get(self, request: AuthenticatedHttpRequest, consent_id: int) -> HttpResponse:
        consent = Consent.objects.select_related("client").filter(pk=consent_id, user=request.user).first()
        if consent is None:
            messages.info(request, _("That app is not connected to your account."))
            return redirect("oidc_provider:connected-apps")
        context = {
            "consent": consent,
            "name": consent.client.name or "Unnamed app",
            "scopes": scope_descriptions(consent.scopes),
            "offline": "offline_access" in consent.scopes,
            "told": bool(consent.client.backchannel_logout_uri),
        }
        return render(request, "oidc_provider/connected_app_revoke.html", context)
