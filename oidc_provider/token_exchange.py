"""Token exchange (RFC 8693): an API calls another API on the user's behalf.

An API's own (confidential) client receives a user's access token, and trades it at the token
endpoint for a token to a second API, for the same user, with itself as the actor:

- Off unless staff allow it per client: ``Client.token_exchange_apis`` lists the APIs whose
  tokens the client may exchange; none is ``unauthorized_client`` (RFC 6749 §5.2), as is a
  client not registered for the grant type.
- The subject token is an access token Porchlight issued, still active (not expired, not
  revoked, its user active), for a user, whose audience is one of those APIs. Anything else is
  ``invalid_request``: RFC 8693 §2.2.2 says so for a subject token that is "invalid for any
  reason, or [is] unacceptable based on policy". Only ``subject_token_type`` and
  ``requested_token_type`` ``urn:ietf:params:oauth:token-type:access_token`` are supported;
  ``actor_token`` is refused, as the authenticated client is the actor.
- The target is the API ``resource`` (RFC 8707) and/or ``audience`` (RFC 8693 §2.1, here the
  API's identifier) name, or without either the API of the requested scopes. One that is not a
  registered API, or one the client is allowed no scope of, is ``invalid_target`` (§2.2.2).
- The new token's scopes are at most what the first token and the client's allowance permit:
  each requested scope is an OpenID scope the subject token carries (never widened) or a scope
  of the target API staff allowed the client (``apis.api_target``, the one allowance rule).
  Anything else is ``invalid_scope``, never silently dropped. Without ``scope`` the token gets
  the client's allowance for the target API and no OpenID scope.
- The new token goes through the ordinary access-token path (the target API's format,
  lifetime, algorithm, identity claims and roles; stored by checksum, so revocable and
  introspectable), for the subject token's user and sign-in (auth_time, amr, acr, session),
  never outliving the subject token, with ``act`` naming the client (§4.1; an earlier actor of
  the subject token nested inside it). No refresh token, no ID token (§2.2.1).
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.utils import timezone
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase
from oauthlib.oauth2.rfc6749.tokens import BearerToken, TokenBase

from audit.actions import Action
from audit.services import audit_record

from . import apis
from .access_tokens import requested_resources
from .models import OIDC_SCOPE_NAMES, AccessToken, Api, Client, GrantType
from .oauth2_validators import PorchlightValidator
from .request_state import ValidatorRequest, auth_context_of, state_of
from .tokens import access_token_find, token_usable

# RFC 8693 §3: the one token type Porchlight exchanges and issues.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class TokenExchangeError(Exception):
    """A token exchange request Porchlight refuses: the OAuth error code and why."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Exchange:
    """What one accepted exchange issues: for whom, to which API, which scopes, and the actor."""

    subject: AccessToken
    api: Api
    scopes: list[str]
    act: dict[str, Any]


def _parameter(request: Request, name: str) -> str:
    # RFC 6749 §3.2: a parameter sent without a value is treated as omitted.
    value = getattr(request, name, None)
    return value if isinstance(value, str) else ""


def _seconds_left(token: AccessToken) -> int:
    return math.floor((token.expires - timezone.now()).total_seconds())


def exchange_parameters_check(request: Request) -> None:
    """Refuse a request whose token types or actor token Porchlight does not support (RFC 8693 §2.1)."""
    if not _parameter(request, "subject_token"):
        raise TokenExchangeError("invalid_request", "subject_token is required.")
    subject_type = _parameter(request, "subject_token_type")
    if not subject_type:
        raise TokenExchangeError("invalid_request", "subject_token_type is required.")
    if subject_type != ACCESS_TOKEN_TYPE:
        raise TokenExchangeError(
            "invalid_request", f"Only access tokens are exchanged: subject_token_type {ACCESS_TOKEN_TYPE}."
        )
    requested_type = _parameter(request, "requested_token_type")
    if requested_type and requested_type != ACCESS_TOKEN_TYPE:
        raise TokenExchangeError(
            "invalid_request", f"Only access tokens are issued: requested_token_type {ACCESS_TOKEN_TYPE}."
        )
    if _parameter(request, "actor_token") or _parameter(request, "actor_token_type"):
        raise TokenExchangeError(
            "invalid_request", "actor_token is not supported: the authenticated client is the actor."
        )


def exchange_subject(*, client: Client, value: str) -> AccessToken:
    """Return the active access token ``value`` if ``client`` may exchange it (RFC 8693 §2.2.2)."""
    token = access_token_find(value=value)
    # One answer for every token that is not (or no longer) an active access token: a caller
    # learns nothing about a value it does not hold a live token for.
    if token is None or _seconds_left(token) < 1 or not token_usable(token):
        raise TokenExchangeError("invalid_request", "subject_token is not an active access token.")
    if token.user is None:
        raise TokenExchangeError(
            "invalid_request", "subject_token has no user: token exchange acts on a user's behalf."
        )
    audience = list(token.resource or [])
    allowed = len(audience) == 1 and client.token_exchange_apis.filter(identifier=audience[0]).exists()
    if not allowed:
        raise TokenExchangeError(
            "invalid_request", "subject_token is not for an API whose tokens this client may exchange."
        )
    return token


def exchange_target(*, client: Client, scopes: Sequence[str], resources: Sequence[str], audience: str) -> Api:
    """Return the API the new token is for, named by ``resources`` or ``audience`` or the scopes."""
    named = list(dict.fromkeys([*resources, *([audience] if audience else [])]))
    if len(named) > 1:
        raise TokenExchangeError(
            "invalid_target", "Name one API (one token, one audience): resource and audience differ."
        )
    if named:
        api = apis.api_find(named[0])
        if api is None:
            raise TokenExchangeError("invalid_target", f"'{named[0][:200]}' is not a registered API.")
    else:
        try:
            api = apis.api_target(client=client, scopes=scopes, resources=[]).api
        except apis.ApiTargetError as error:
            raise TokenExchangeError(error.error, error.description) from None
        if api is None:
            raise TokenExchangeError("invalid_target", "Name the API the token is for: resource or audience.")
    if not apis.allowed_api_scopes(client, api):
        raise TokenExchangeError("invalid_target", f"This client may not get tokens for {api.identifier}.")
    return api


def exchange_scopes(*, client: Client, subject: AccessToken, api: Api, asked: Sequence[str]) -> list[str]:
    """Return the new token's scopes: ``asked``, each allowed; by default the allowance for ``api``."""
    if not asked:
        # The least that lets the client call the API as staff allowed; no identity scope.
        return sorted(apis.allowed_api_scopes(client, api))
    carried = set(subject.scope.split())
    widened = [scope for scope in asked if scope in OIDC_SCOPE_NAMES and scope not in carried]
    if widened:
        raise TokenExchangeError("invalid_scope", f"The subject token does not carry: {' '.join(widened)}.")
    try:
        apis.api_target(client=client, scopes=asked, resources=[api.identifier])
    except apis.ApiTargetError as error:
        raise TokenExchangeError(error.error, error.description) from None
    return list(dict.fromkeys(asked))


def exchange_act(*, client: Client, subject: AccessToken) -> dict[str, Any]:
    """Return the new token's ``act`` claim: the client, with the subject token's actor nested (§4.1)."""
    act: dict[str, Any] = {"sub": client.client_id}
    if subject.act:
        act["act"] = subject.act
    return act


def exchange_check(*, client: Client, request: Request) -> Exchange:
    """Decide what the token exchange ``request`` by the authenticated ``client`` issues."""
    if not client.token_exchange_apis.exists():
        raise TokenExchangeError(
            "unauthorized_client", "This client is not allowed to exchange tokens of any API."
        )
    exchange_parameters_check(request)
    subject = exchange_subject(client=client, value=_parameter(request, "subject_token"))
    asked = list(request.scopes or [])
    api = exchange_target(
        client=client,
        scopes=asked,
        resources=requested_resources(request),
        audience=_parameter(request, "audience"),
    )
    scopes = exchange_scopes(client=client, subject=subject, api=api, asked=asked)
    return Exchange(subject=subject, api=api, scopes=scopes, act=exchange_act(client=client, subject=subject))


class TokenExchangeGrant(GrantTypeBase):
    """RFC 8693 §2: the token-exchange grant, registered on the server like oauthlib's own grants."""

    def create_token_response(
        self, request: Request, token_handler: TokenBase
    ) -> tuple[dict[str, str], str | None, int | None]:
        """Return the RFC 8693 §2.2.1 response, or an RFC 6749 §5.2 error."""
        # RFC 6749 §5.1: token responses are JSON and never cached.
        headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        assert isinstance(token_handler, BearerToken)  # The server's default token type.
        # §2.2.1: an access token only; a refresh token would outlive the subject token's limits.
        token: dict[str, Any] = dict(token_handler.create_token(request, refresh_token=False))
        validator = self._validator()
        validator.save_token(token, cast(ValidatorRequest, request))
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        self._record(request, validator, token)
        return headers, json.dumps(token), 200

    def validate_token_request(self, request: Request) -> None:
        """Authenticate the caller, then check the grant, the subject token, the target and scopes."""
        # oauthlib's pre_token/post_token validators are not used: nothing registers any.
        if request.grant_type != GrantType.TOKEN_EXCHANGE:
            raise errors.UnsupportedGrantTypeError(request=request)
        # §2.1: the caller authenticates; only a confidential client can.
        self.validate_client_confidential(request)
        client = request.client
        if not isinstance(client, Client) or client.client_type != Client.CLIENT_CONFIDENTIAL:
            raise errors.InvalidClientError(request=request)
        self.validate_grant_type(request)
        try:
            exchange = exchange_check(client=client, request=request)
        except TokenExchangeError as error:
            if error.error == "unauthorized_client":
                raise errors.UnauthorizedClientError(description=error.description, request=request) from None
            raise errors.CustomOAuth2Error(
                error=error.error, description=error.description, request=request
            ) from None
        request.scopes = exchange.scopes
        # The scopes backend's check too (PorchlightScopes): e.g. groups only for clients allowed it.
        self.validate_scopes(request)
        subject = exchange.subject
        request.user = subject.user
        cast(ValidatorRequest, request).resource = [exchange.api.identifier]
        state = state_of(request)
        state.auth_context = auth_context_of(subject)
        # In the subject token's family: revoking that family (a replayed code or refresh
        # token, RFC 9700 §4.14.2) revokes this token too.
        state.token_family = subject.token_family
        state.act = exchange.act
        state.expires_in_at_most = _seconds_left(subject)
        state.exchanged_from = subject

    def _validator(self) -> PorchlightValidator:
        validator = self.request_validator
        assert isinstance(validator, PorchlightValidator)  # settings: OAUTH2_VALIDATOR_CLASS
        return validator

    @staticmethod
    def _record(request: Request, validator: PorchlightValidator, token: dict[str, Any]) -> None:
        state = state_of(request)
        subject = state.exchanged_from
        assert subject is not None and request.client is not None  # Set by validate_token_request.
        client = request.client
        audit_record(
            action=Action.TOKEN_EXCHANGE,
            target=subject.user or client,
            actor_label=f"client {client.client_id}",
            detail={
                "client_id": client.client_id,
                "subject_client_id": subject.application.client_id if subject.application else None,
                "from": list(subject.resource or []),
                "to": list(request.resource or []),
                "scope": token.get("scope", ""),
                "act": state.act,
            },
            request=validator.build_http_request(request),
        )
