"""RP-Initiated Logout 1.0: end the user's session and send them back to the app."""

from django.contrib.auth import logout
from django.urls import reverse
from oauth2_provider.exceptions import InvalidOIDCClientError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import RPInitiatedLogoutView
from oauthlib.common import add_params_to_uri

from accounts.authentication import get_auth_context

from .. import keys
from ..models import Client


class EndSessionView(RPInitiatedLogoutView):
    template_name = "oidc_provider/logout_confirm.html"

    def get_request_application(self, id_token, client_id):
        if client_id:
            client = Client.objects.filter(client_id=client_id).first()
            if client is None:
                raise InvalidOIDCClientError()
            return client
        return id_token.application if id_token else None

    def must_prompt(self, token_user) -> bool:
        """Ask before signing out unless the hint is from this very session (RP-Initiated Logout 1.0 §2).

        Without a signed-in session there is nothing to end, and nothing is revoked.
        """
        if not self.request.user.is_authenticated:
            return False
        context = get_auth_context(self.request)
        hint = self.request.GET.get("id_token_hint") or self.request.POST.get("id_token_hint")
        claims = keys.verify(hint, check_expiry=False) if hint else None
        if not claims or context is None:
            return True
        return claims.get("sub") != self.request.user.subject or claims.get("sid") != context.session_id

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        # Ending the sign-in session (the user_logged_out receiver) revokes the tokens bound to
        # it, for every app; offline tokens live on (OIDC Core 1.0 §11). An id_token_hint alone,
        # with no session here, revokes nothing: it may be old or leaked.
        if self.request.user.is_authenticated:
            logout(self.request)
        if post_logout_redirect_uri:
            # RP-Initiated Logout 1.0 §3: state is passed back unchanged.
            target = (
                add_params_to_uri(post_logout_redirect_uri, [("state", state)])
                if state
                else post_logout_redirect_uri
            )
            return OAuth2ResponseRedirect(target, application.get_allowed_schemes())
        return OAuth2ResponseRedirect(
            self.request.build_absolute_uri(reverse("accounts:logged-out")),
            oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES,
        )
