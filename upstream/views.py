"""Sign-in through an upstream provider: start, callback, link, unlink, and its back-channel logout."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.mfa import views as mfa_views
from accounts.recent_auth import recent_authentication_required

from . import backchannel, flows
from .models import LinkedIdentity, UpstreamProvider


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


def _login_url(next_url: str) -> str:
    return mfa_views.with_next(reverse("accounts:login"), next_url)


def failure_page(request: HttpRequest, exc: flows.SignInFailure, *, next_url: str = "") -> HttpResponse:
    """The plain page a failed upstream sign-in ends on, with the way back to the sign-in page."""
    return render(
        request,
        "upstream/failed.html",
        {"message": exc.message, "login_url": _login_url(next_url or settings.LOGIN_REDIRECT_URL)},
        status=exc.status,
    )


def _provider(slug: str) -> UpstreamProvider:
    return get_object_or_404(UpstreamProvider, slug=slug, enabled=True)


@never_cache
def start(request: HttpRequest, slug: str) -> HttpResponse:
    """Send the browser to the upstream provider (the sign-in page's "Sign in with …" button)."""
    provider = _provider(slug)
    next_url = _safe_next(request, request.GET.get("next", ""))
    try:
        return redirect(flows.sign_in_start(request, provider=provider, next_url=next_url))
    except flows.SignInFailure as exc:
        return failure_page(request, exc, next_url=next_url)


@never_cache
def callback(request: HttpRequest, slug: str) -> HttpResponse:
    """The redirect URI: redeem the code, then sign in, offer a link, or say why not."""
    provider = _provider(slug)
    next_url = _safe_next(request, flows.callback_next(request, provider) or "")
    try:
        identity = flows.upstream_identity(request, provider)
        outcome = flows.sign_in_complete(request, provider=provider, identity=identity, next_url=next_url)
    except flows.SignInFailure as exc:
        return failure_page(request, exc, next_url=next_url)
    if outcome.link_offered:
        return redirect("upstream:link")
    if outcome.second_factor:
        return redirect(mfa_views.authenticate_url(outcome.next_url))
    return redirect(outcome.next_url)


@never_cache
def link(request: HttpRequest) -> HttpResponse:
    """Link the identity waiting in this browser to its account, once the owner signed in the usual way."""
    pending = flows.link_pending(request)
    if pending is None:
        messages.info(request, _("Nothing is waiting to be linked; start the sign-in again."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    if not flows.link_may_confirm(request, pending):
        return render(
            request,
            "upstream/link.html",
            {
                "pending": pending,
                "signed_in_elsewhere": request.user.is_authenticated and request.user.pk != pending.user_id,
                "login_url": _login_url(reverse("upstream:link")),
            },
        )
    if request.method != "POST":
        return render(request, "upstream/link.html", {"pending": pending, "confirm": True})
    next_url = _safe_next(request, pending.next_url)
    try:
        flows.link_confirm(request, pending)
    except flows.SignInFailure as exc:
        return failure_page(request, exc, next_url=next_url)
    messages.success(
        request, _("You can now sign in with %(provider)s.") % {"provider": pending.provider.label}
    )
    return redirect(next_url)


@login_required
@require_POST
@recent_authentication_required(return_to="accounts:home")
def unlink(request: HttpRequest, pk: int) -> HttpResponse:
    """Unlink one of the signed-in user's upstream identities, unless it is their last way in."""
    identity = get_object_or_404(
        LinkedIdentity.objects.select_related("user", "provider"), pk=pk, user=request.user
    )
    if not flows.sign_in_methods_left(identity):
        messages.error(
            request,
            _("%(provider)s is your only way to sign in: set a password or add a passkey first.")
            % {"provider": identity.provider.label},
        )
    else:
        flows.identity_unlink(request, link=identity, actor=identity.user)
        messages.success(
            request, _("%(provider)s no longer signs you in.") % {"provider": identity.provider.label}
        )
    return redirect(reverse("accounts:home") + "#linked-heading")


@csrf_exempt
@require_POST
def backchannel_logout(request: HttpRequest, slug: str) -> HttpResponse:
    """OIDC Back-Channel Logout 1.0 §2.5: the upstream ends a session it began here."""
    provider = get_object_or_404(UpstreamProvider, slug=slug, kind=UpstreamProvider.Kind.OIDC)
    try:
        backchannel.logout_token_accept(
            request, provider=provider, token=request.POST.get("logout_token", "")
        )
    except backchannel.LogoutTokenInvalid as exc:
        # §2.8: 400 with an OAuth 2.0 error body when the logout token is not valid.
        response: HttpResponse = JsonResponse(
            {"error": "invalid_request", "error_description": str(exc)}, status=400
        )
    else:
        response = HttpResponse(status=200)
    # §2.8: responses to the logout request are not cached.
    response["Cache-Control"] = "no-store"
    return response
