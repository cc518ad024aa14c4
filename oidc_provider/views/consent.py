"""The consent page's answer: allow or cancel the authorization request kept in the session.

The answer changes what the user has allowed and sends a code, so it is an ordinary form with
Django's CSRF protection (the page carries the token). It names its request by ``request_id``
only: where the code goes and what it grants come from the request validated before the page was
shown (authorization.py, ``pending_store``), never from the post (docs/design.md, gap 13).
"""

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.authentication import get_auth_context

from ..authorization import authorization_response, pending_pop
from ..consent import consent_grant
from ..models import Client
from ..requested_claims import claims_loaded, claims_to_consent
from .authorize import CodeResponseMixin, error_page


@method_decorator(never_cache, name="dispatch")
class ConsentAnswerView(CodeResponseMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = pending_pop(request, request.POST.get("request_id", ""))
        if pending is None:
            return error_page(
                request,
                _(
                    "This sign-in request has expired or was already answered."
                    " Go back to the app and try again."
                ),
            )
        credentials = pending["credentials"]
        client = Client.objects.filter(client_id=credentials["client_id"]).first()
        context, user = get_auth_context(request), request.user
        # A sign-in context means a signed-in user (get_auth_context).
        if client is None or context is None or not user.is_authenticated or pending["user"] != user.pk:
            return error_page(
                request, _("This sign-in request is no longer valid. Go back to the app and try again.")
            )
        if "allow" not in request.POST:
            return authorization_response(
                request,
                redirect_uri=credentials["redirect_uri"],
                client=client,
                params=self._error_params("access_denied", "The user declined.", credentials.get("state")),
                response_mode=credentials.get("response_mode", "query"),
            )
        claims = claims_to_consent(claims_loaded(credentials.get("claims")), pending["scopes"])
        consent_grant(user=user, client=client, scopes=pending["scopes"], claims=claims, request=request)
        return self._issue_code(request, client, pending["scopes"], credentials, context)
