"""Dynamic client registration endpoint (RFC 7591 §3, OIDC Registration 1.0 §3).

A small view on ``registration.py`` rather than DOT's ``ClientRegistrationView``, which maps a
client to a single DOT grant type and gives it no ID token algorithm (docs/design.md, gap 9).
"""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..client_configuration import (
    registration_client_uri,
    registration_delete,
    registration_find,
    registration_response,
    registration_update,
)
from ..models import ClientRegistration
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
            metadata = metadata_parse(json_document(request))
            registered = client_register(metadata=metadata, token=token)
        except RegistrationError as exc:
            return _no_store(error_response(exc.error, exc.description))
        body = {
            "client_id": registered.client.client_id,
            "client_id_issued_at": int(registered.client.created.timestamp()),
            **metadata.as_response(),
            # RFC 7592 §3: where and with what the client manages its registration.
            "registration_client_uri": registration_client_uri(registered.client),
            "registration_access_token": registered.access_token,
        }
        if registered.secret is not None:
            # RFC 7591 §3.2.1: 0 means the secret does not expire.
            body.update(client_secret=registered.secret, client_secret_expires_at=0)
        return _no_store(JsonResponse(body, status=201))


@method_decorator(csrf_exempt, name="dispatch")
class ClientConfigurationView(View):
    """The client configuration endpoint (RFC 7592 §2): read, replace or delete a registration."""

    http_method_names = ["get", "put", "delete"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in ("GET", "PUT", "DELETE"):
            return super().dispatch(request, *args, **kwargs)
        # RFC 7592 §2: an RFC 6750 Bearer token, for this client only; a wrong, revoked or absent
        # one, or a client that does not exist (any more), is 401 invalid_token alike.
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        value = value.strip() if scheme.lower() == "bearer" else ""
        registration = registration_find(client_id=kwargs["client_id"], value=value)
        if registration is None:
            return _no_store(
                error_response(
                    "invalid_token", "A valid registration access token is required.", attempted=bool(value)
                )
            )
        handler = getattr(self, request.method.lower())
        response: HttpResponse = handler(request, registration)
        return _no_store(response)

    def get(self, request: HttpRequest, registration: ClientRegistration) -> HttpResponse:
        return JsonResponse(registration_response(registration))

    def put(self, request: HttpRequest, registration: ClientRegistration) -> HttpResponse:
        try:
            updated = registration_update(registration=registration, data=json_document(request))
        except RegistrationError as exc:
            return error_response(exc.error, exc.description)
        return JsonResponse(registration_response(updated.registration, access_token=updated.access_token))

    def delete(self, request: HttpRequest, registration: ClientRegistration) -> HttpResponse:
        registration_delete(registration=registration)
        return HttpResponse(status=204)


def json_document(request: HttpRequest) -> dict[str, Any]:
    """Return the JSON object sent (RFC 7591 §3.1, RFC 7592 §2.2), or raise ``invalid_client_metadata``."""
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
