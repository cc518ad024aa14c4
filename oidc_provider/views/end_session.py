"""RP-Initiated Logout 1.0: end the user's session and send them back to the app."""

import uuid
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from oauth2_provider.exceptions import (
    ClientIdMissmatch,
    InvalidIDTokenError,
    InvalidOIDCClientError,
    OIDCError,
)
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import RPInitiatedLogoutView
from oauthlib.common import add_params_to_uri

from accounts.authentication import get_auth_context
from accounts.languages import ui_locales_use
from accounts.models import User
from accounts.sessions import login_session_current, signed_out_page_prepare
from audit.actions import Action
from audit.services import audit_record

from .. import keys
from ..models import Client, IDToken
from ..subjects import audience_client, subject_matches


class EndSessionView(RPInitiatedLogoutView):
    template_name = "oidc_provider/logout_confirm.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # RP-Initiated Logout 1.0 §2: ui_locales, the person's languages for these pages. DOT's
        # form carries it from the question to the answer in a hidden field.
        ui_locales_use(request, self._ui_locales(request))
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        return response

    @staticmethod
    def _ui_locales(request: HttpRequest) -> str | None:
        return request.GET.get("ui_locales") or request.POST.get("ui_locales")

    def validate_logout_request_user(
        self, id_token_hint: str | None, client_id: str | None
    ) -> IDToken | None:
        """Return the ID token ``id_token_hint`` names, checked as RP-Initiated Logout 1.0 §2 asks.

        Verified by keys.py: by kid among every published key, retired ones included, so a hint
        signed before a rotation still verifies (docs/design.md, gap 4); an HS256 hint by its
        audience's secret. DOT would look for the key through its own key settings.
        """
        if not id_token_hint:
            return None
        expiry = not oauth2_settings.OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS
        claims = keys.verify(id_token_hint, check_expiry=expiry)
        if not claims or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
            raise InvalidIDTokenError()
        try:
            # An HS256 client can sign any claims with its own secret: the jti may be anything.
            jti = uuid.UUID(str(claims.get("jti")))
        except ValueError:
            raise InvalidIDTokenError() from None
        id_token = IDToken.objects.select_related("user", "application").filter(jti=jti).first()
        if id_token is None:
            raise InvalidIDTokenError()
        # Both given: they must name the same client.
        if client_id and (id_token.application is None or id_token.application.client_id != client_id):
            raise ClientIdMissmatch()
        return id_token

    def validate_post_logout_redirect_uri(
        self, application: Client | None, post_logout_redirect_uri: str | None
    ) -> None:
        # DOT's strict mode refuses every http URI of a public client, yet Client.clean() lets a
        # public client register loopback ones (RFC 8252 §7.3, a browser app on the developer's
        # own machine). Those pass when registered exactly; everything else is DOT's rule.
        if (
            application is not None
            and post_logout_redirect_uri
            and application.client_type == Client.CLIENT_PUBLIC
            and urlsplit(post_logout_redirect_uri).scheme == "http"
            and post_logout_redirect_uri in application.post_logout_redirect_uris.split()
        ):
            return
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)  # type: ignore[no-untyped-call]

    def get_request_application(self, id_token: IDToken | None, client_id: str | None) -> Client | None:
        if client_id:
            client = Client.objects.filter(client_id=client_id).first()
            if client is None:
                raise InvalidOIDCClientError()
            return client
        return id_token.application if id_token else None

    def must_prompt(self, token_user: User | None) -> bool:
        """Ask before signing out unless the hint is from this very session (RP-Initiated Logout 1.0 §2).

        Without a signed-in session there is nothing to end, and nothing is revoked.
        """
        user = self.request.user
        if not user.is_authenticated:
            return False
        context = get_auth_context(self.request)
        if self._hint_names_someone_else(user, context.session_id if context else ""):
            # RP-Initiated Logout 1.0 §2 logout_hint: the app thinks someone else is signed in;
            # never sign this user out silently on its word.
            return True
        hint = self.request.GET.get("id_token_hint") or self.request.POST.get("id_token_hint")
        claims = keys.verify(hint, check_expiry=False) if hint else None
        if not claims or context is None:
            return True
        # The hint's sub is the one its audience knows the user by (OIDC Core 1.0 §8).
        client = audience_client(claims, None)
        return not subject_matches(claims.get("sub"), user, client) or claims.get("sid") != context.session_id

    def get_initial(self) -> dict[str, str | None]:
        # DOT leaves logout_hint out of the confirmation form; the page shows whom it named.
        initial: dict[str, str | None] = super().get_initial()  # type: ignore[no-untyped-call]
        initial["logout_hint"] = self.request.GET.get("logout_hint") or None
        # DOT leaves ui_locales out of the question's form; the answer needs it too (§2).
        initial["ui_locales"] = self.request.GET.get("ui_locales") or None
        return initial

    def _hint_names_someone_else(self, user: User, session_id: str) -> bool:
        """Return whether a logout_hint was sent and names no one but the signed-in user.

        RP-Initiated Logout 1.0 §2 leaves its meaning to the OP: here a username, an e-mail
        address or the session's sid, compared without regard to case.
        """
        hint = (self.request.GET.get("logout_hint") or self.request.POST.get("logout_hint") or "").strip()
        if not hint:
            return False
        names = {user.get_username().casefold(), (user.email or "").casefold(), session_id.casefold()}
        return hint.casefold() not in names - {""}

    def form_valid(self, form: forms.Form) -> HttpResponse:
        if form.cleaned_data.get("allow") or not self.request.user.is_authenticated:
            # DOT's view has no annotations, and a super() call cannot be exempted by name
            # (untyped_calls_exclude in pyproject.toml).
            response: HttpResponse = super().form_valid(form)  # type: ignore[no-untyped-call]
            return response
        # The user chose to stay signed in: back to the app, which has signed out locally.
        try:
            application, _user = self.validate_logout_request(
                id_token_hint=form.cleaned_data.get("id_token_hint"),
                client_id=form.cleaned_data.get("client_id"),
                post_logout_redirect_uri=form.cleaned_data.get("post_logout_redirect_uri"),
            )
        except OIDCError as error:
            refusal: HttpResponse = self.error_response(error)
            return refusal
        uri = form.cleaned_data.get("post_logout_redirect_uri")
        if not uri:
            return redirect("accounts:home")
        target = self._with_state(uri, form.cleaned_data.get("state"))
        return OAuth2ResponseRedirect(target, application.get_allowed_schemes())

    @staticmethod
    def _with_state(uri: str, state: str | None) -> str:
        # RP-Initiated Logout 1.0 §3: state is passed back unchanged.
        return add_params_to_uri(uri, [("state", state)]) if state else uri

    def do_logout(
        self,
        application: Client | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: User | None = None,
    ) -> HttpResponse:
        # Ending the sign-in session (the user_logged_out receiver) revokes the tokens bound to
        # it and tells every app that used it; offline tokens live on (OIDC Core 1.0 §11). An
        # id_token_hint alone, with no session here, revokes nothing: it may be old or leaked.
        user = self.request.user
        signed_in = user.is_authenticated
        audit_record(
            action=Action.LOGOUT_RP_INITIATED,
            target=user if user.is_authenticated else "",
            actor=user,
            actor_label="" if signed_in else f"client {application.client_id if application else '(none)'}",
            detail={
                "client_id": application.client_id if application else "",
                "session_ended": signed_in,
                "post_logout_redirect_uri": post_logout_redirect_uri or "",
            },
            request=self.request,
        )
        target = self._with_state(post_logout_redirect_uri, state) if post_logout_redirect_uri else ""
        if signed_in:
            session = login_session_current(self.request)
            logout(self.request)
            # The new, signed-out session keeps the language for the signed-out page.
            ui_locales_use(self.request, self._ui_locales(self.request))
            # Front-Channel Logout 1.0 §4: the apps' logout pages load on our signed-out page,
            # which then continues to the app.
            if signed_out_page_prepare(self.request, session=session, next_url=target):
                return redirect("accounts:logged-out")
        if target:
            # DOT's validate_post_logout_redirect_uri refuses a redirect URI without a client.
            assert application is not None
            return OAuth2ResponseRedirect(target, application.get_allowed_schemes())
        return OAuth2ResponseRedirect(
            self.request.build_absolute_uri(reverse("accounts:logged-out")),
            oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES,
        )
