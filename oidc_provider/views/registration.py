"""Dynamic client registration endpoint (RFC 7591 §3, OIDC Registration 1.0 §3).

A small view on ``registration.py`` rather than DOT's ``ClientRegistrationView``, which maps a
client to a single DOT grant type and gives it no ID token algorithm (docs/design.md, gap 9).
"""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..registration import RegistrationError, client_register, metadata_parse, registration_token_find

MAX_BODY = 64 * 1024


def error_response(error: str, description: str, *, attempted: bool = True) -> JsonResponse:
    """Return an RFC 7591 §3.2.2 error, or an RFC 6750 §3 one for the initial access token."""
    if error != "invalid_token":
        return JsonResponse({"error": error, "error_description": description}, status=400)
    response = JsonResponse({"error": error, "error_description": description}, status=401)
    # RFC 6750 §3.1: no error code in the challenge when no token was sent at all.
    challenge = 'Bearer realm="registration"'
    response["WWW-Authenticate"] = challenge + (', error="invalid_token"' if attempted else "")
    return response


def _no_store(response: HttpResponse) -> HttpResponse:
    # RFC 7591 §3.2.1: the response carries a client secret.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        token = None
        if not settings.PORCHLIGHT["OPEN_REGISTRATION"]:
            # RFC 7591 §3: registration is protected by an initial access token (RFC 6750 Bearer).
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            value = value.strip()
            token = registration_token_find(value) if scheme.lower() == "bearer" and value else None
            if token is None:
                return error_response(
                    "invalid_token", "A valid initial access token is required.", attempted=bool(value)
                )
        try:
            metadata = metadata_parse(self._document(request))
            client, secret = client_register(metadata=metadata, token=token)
        except RegistrationError as exc:
            return _no_store(error_response(exc.error, exc.description))
        body = {
            "client_id": client.client_id,
            "client_id_issued_at": int(client.created.timestamp()),
            **metadata.as_response(),
        }
        if secret is not None:
            # RFC 7591 §3.2.1: 0 means the secret does not expire.
            body.update(client_secret=secret, client_secret_expires_at=0)
        return _no_store(JsonResponse(body, status=201))

    @staticmethod
    def _document(request: HttpRequest) -> dict[str, Any]:
        """Return the JSON object posted (RFC 7591 §3.1), or raise ``invalid_client_metadata``."""
        if request.content_type != "application/json":
            raise RegistrationError("invalid_client_metadata", "The request body must be application/json.")
        if len(request.body) > MAX_BODY:
            raise RegistrationError("invalid_client_metadata", "The request body is too large.")
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError) as exc:
            raise RegistrationError("invalid_client_metadata", "The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise RegistrationError("invalid_client_metadata", "The request body must be a JSON object.")
        return data
