"""RP-Initiated Logout 1.0: end the user's session and send them back to the app."""

from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from oauth2_provider.exceptions import InvalidOIDCClientError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import RPInitiatedLogoutView
from oauthlib.common import add_params_to_uri

from ..models import Client
from ..tokens import user_tokens_revoke


class EndSessionView(RPInitiatedLogoutView):
    template_name = "oidc_provider/logout_confirm.html"

    def get_request_application(self, id_token, client_id):
        if client_id:
            client = Client.objects.filter(client_id=client_id).first()
            if client is None:
                raise InvalidOIDCClientError()
            return client
        return id_token.application if id_token else None

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        user = token_user or self.request.user
        # Revoke what this client holds for the user; other apps keep their own sessions.
        if application is not None and not isinstance(user, AnonymousUser):
            user_tokens_revoke(user=user, client=application)
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
