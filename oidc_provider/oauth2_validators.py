"""The oauthlib request validator: DOT's, with Porchlight's rules.

It stays thin: claims come from ``claims.py``, the ID token from ``id_token.py``, keys and
signatures from ``keys.py``, codes and refresh tokens from ``codes.py`` and ``refresh.py``.
Decisions that need the browser session (prompt, max_age, id_token_hint) are made in the
authorization view, which has the session; this class only records their outcome on grants and
tokens. What one hook learns for a later one in the same request is kept in its typed state
(``request_state.py``). The private DOT methods still overridden, and why, are listed in
docs/private-apis.md.
"""

import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db import router, transaction
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import set_token_value
from oauth2_provider.oauth2_validators import OAuth2Validator, is_valid_resource_uri
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from accounts.models import LoginSession
from accounts.sessions import login_session_active
from audit.actions import Action
from audit.services import audit_record
from ground.checksums import token_checksum
from ground.prepared_queries import PreparedInsert, PreparedLookup, PreparedPair

from . import apis, codes, device
from .access_tokens import requested_resources
from .claims import released_claims, userinfo_claims
from .client_auth import (
    AssertionRefused,
    assertion_authenticate,
    assertion_of,
    assertion_subject,
    secret_method_allowed,
)
from .custom_claims import identity_scopes
from .id_token import IDToken
from .logout import session_client_record
from .models import AccessToken, Client, Grant, GrantType, RefreshToken, ResponseType
from .models import IDToken as IDTokenRecord
from .rate_limits import loaded_assertion, loaded_authenticated, loaded_client, machine_lookup
from .refresh import refresh_token_lock, refresh_token_rotated
from .request_state import ValidatorRequest, auth_context_fields, auth_context_of, state_of
from .requested_claims import claims_loaded
from .response_types import FRONT_CHANNEL_TOKEN_LIFETIME, front_channel, response_type_normalized
from .tokens import INTROSPECTED_ACCESS_TOKEN, client_tokens_find, refresh_token_remaining, token_usable

logger = logging.getLogger(__name__)

_CLIENT_BY_CLIENT_ID = PreparedLookup(Client, lambda client_id: Client.objects.filter(client_id=client_id))
# What authenticating a client and then introspecting or issuing a client_credentials token read
# of it: 21 of its 41 columns, none of those only the browser flows, logout and request objects
# use (a column left out is still read when used, with a query of its own, which
# tests/oidc_provider/test_query_counts.py counts).
MACHINE_CLIENT_FIELDS = (
    "client_id",
    "client_type",
    "client_secret",
    "hash_client_secret",
    "authorization_grant_type",
    "name",
    "registration_source",
    "cimd_expires_at",
    "allowed_origins",
    "grant_types",
    "access_token_format",
    "access_token_algorithm",
    "may_introspect",
    "release_groups",
    "rate_limit",
    "client_secret_encrypted",
    "token_endpoint_auth_method",
    "token_endpoint_auth_signing_alg",
    "jwks",
    "jwks_uri",
)
_MACHINE_CLIENT_BY_CLIENT_ID = PreparedLookup(
    Client, lambda client_id: Client.objects.only(*MACHINE_CLIENT_FIELDS).filter(client_id=client_id)
)
# Introspection's caller and the access token it asks about, in one statement.
MACHINE_CLIENT_WITH_ACCESS_TOKEN = PreparedPair(_MACHINE_CLIENT_BY_CLIENT_ID, INTROSPECTED_ACCESS_TOKEN)
# Every token request's INSERT, compiled once per connection (ground/prepared_queries.py).
ACCESS_TOKEN_INSERT = PreparedInsert(AccessToken)

USER_SCOPES = {"openid", "profile", "email", "phone", "address", "offline_access", "groups"}


def invalid_resource_indicator(resource: str, **context: Any) -> errors.CustomOAuth2Error:
    """RFC 8707 §2's invalid_target for a ``resource`` that is not an absolute URI with a scheme
    and host (DOT's check and description); ``context`` is oauthlib's ``request`` or ``state``."""
    return errors.CustomOAuth2Error(
        error="invalid_target",
        description=(
            f"The resource '{resource}' is not a valid resource indicator: "
            "it must be an absolute URI with a scheme and host."
        ),
        **context,
    )


def user_scopes_asked(scopes: list[str]) -> bool:
    """Return whether ``scopes`` name a user scope (identity scopes staff defined too).

    A client_credentials token has no user, so they mean nothing there (RFC 6749 §4.4.2).
    """
    return bool(USER_SCOPES.union(identity_scopes()).intersection(scopes))


if TYPE_CHECKING:

    class _OAuth2Validator(OAuth2Validator):
        """DOT's validator methods Porchlight calls, with the types DOT's code gives them.

        DOT has no annotations, and ``super()`` calls cannot be exempted from the untyped-call
        check by name (pyproject.toml, [tool.mypy]), so the type checker reads these instead.
        At run time the base is DOT's class itself.
        """

        def _check_secret(self, provided_secret: str, stored_secret: str) -> bool: ...
        def _load_application(self, client_id: str, request: ValidatorRequest) -> Client | None: ...
        def authenticate_client(self, request: ValidatorRequest, *args: Any, **kwargs: Any) -> bool: ...
        def client_authentication_required(
            self, request: ValidatorRequest, *args: Any, **kwargs: Any
        ) -> bool: ...
        def validate_response_type(
            self,
            client_id: str,
            response_type: str,
            client: Client,
            request: ValidatorRequest,
            *args: Any,
            **kwargs: Any,
        ) -> bool: ...
        def validate_scopes(
            self,
            client_id: str,
            scopes: list[str],
            client: Client,
            request: ValidatorRequest,
            *args: Any,
            **kwargs: Any,
        ) -> bool: ...
        def save_authorization_code(
            self, client_id: str, code: dict[str, str], request: ValidatorRequest, *args: Any, **kwargs: Any
        ) -> None: ...
        def _check_and_set_request_resource(self, request: ValidatorRequest) -> None: ...
        def get_original_scopes(
            self, refresh_token: str, request: ValidatorRequest, *args: Any, **kwargs: Any
        ) -> str | list[str]: ...
        def get_code_challenge(self, code: str, request: ValidatorRequest) -> str | None: ...
        def get_code_challenge_method(self, code: str, request: ValidatorRequest) -> str | None: ...
        def get_authorization_code_nonce(
            self, client_id: str, code: str, redirect_uri: str, request: ValidatorRequest
        ) -> str | None: ...
        def rotate_refresh_token(self, request: ValidatorRequest) -> bool: ...
        def _save_bearer_token(
            self, token: dict[str, Any], request: ValidatorRequest, *args: Any, **kwargs: Any
        ) -> None: ...
        def validate_bearer_token(self, token: str, scopes: list[str], request: ValidatorRequest) -> bool: ...
        def revoke_token(
            self,
            token: str,
            token_type_hint: str | None,
            request: ValidatorRequest,
            *args: Any,
            **kwargs: Any,
        ) -> None: ...

else:
    _OAuth2Validator = OAuth2Validator


class PorchlightValidator(_OAuth2Validator):
    # Copied, never mutated in place (docs/design.md, gap 3): DOT's dict is shared by every subclass.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope}

    # --- clients and grant types -----------------------------------------------------------

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        # An empty secret proves nothing: public clients identify by client_id alone (RFC 6749
        # §2.1, §3.2.1) and must not pass as authenticated where that is required (RFC 7662
        # §2.1). DOT compares "" with a stored "" (or a hash of "") and says yes.
        if not provided_secret or not stored_secret:
            return False
        return super()._check_secret(provided_secret, stored_secret)

    def _load_application(self, client_id: str, request: ValidatorRequest) -> Client | None:
        # One compiled lookup (PreparedLookup) instead of DOT's queryset, which compiles its SQL on
        # every token, introspection and revocation request. DOT's own checks (usable, same
        # client_id) then run on the row it finds in request.client.
        if not request.client and client_id:
            grant = state_of(request).locked_grant
            if grant is not None and grant.application.client_id == client_id:
                # A code exchange read the code's client with its grant already (codes.py);
                # DOT's checks below still apply to it.
                request.client = grant.application
            elif (loaded := loaded_client(client_id)) is not None:
                # The view authenticated the client already, to count it (rate_limits.py).
                request.client = loaded
            else:
                # A value PostgreSQL refuses (a NUL byte) is "no such client", as in DOT.
                with contextlib.suppress(ValueError):
                    request.client = self._client_read(client_id)
        return super()._load_application(client_id, request)

    @staticmethod
    def _client_read(client_id: str) -> Client | None:
        machine = machine_lookup()
        if machine is None:
            return _CLIENT_BY_CLIENT_ID.first(client_id)
        if machine.access_token_checksum is None:
            return _MACHINE_CLIENT_BY_CLIENT_ID.first(client_id)
        # Introspection: the token it asks about, read in the client's statement (one round trip
        # instead of two); the view shows it only once this client has authenticated.
        found = MACHINE_CLIENT_WITH_ACCESS_TOKEN.find(client_id, machine.access_token_checksum)
        if found is None:
            return None
        client, machine.access_token = found
        machine.access_token_read = True
        return client

    def client_authentication_required(self, request: ValidatorRequest, *args: Any, **kwargs: Any) -> bool:
        # A client assertion is client authentication (RFC 7523 §2.2), whoever the client is.
        if assertion_of(request.decoded_body or []) is not None:
            return True
        required: bool = super().client_authentication_required(request, *args, **kwargs)
        return required

    def authenticate_client(self, request: ValidatorRequest, *args: Any, **kwargs: Any) -> bool:
        authenticated = loaded_authenticated(request)
        if authenticated is not None and assertion_of(request.decoded_body or []) is None:
            # The view authenticated this request's client already, with these same credentials,
            # to count it (rate_limits.identify_client): the secret is not checked twice. Every
            # check below passed then; a request it refused never gets here as authenticated.
            request.client = authenticated
            return True
        # Each client authenticates only with the method it is registered for (client_auth.py).
        assertion = assertion_of(request.decoded_body or [])
        if assertion is not None:
            if not self._authenticate_assertion(request, assertion):
                return False
        elif not super().authenticate_client(request, *args, **kwargs):
            return False
        assert request.client is not None  # DOT sets it on the request it authenticates.
        if assertion is None and not secret_method_allowed(request.client):
            # Registered for a JWT method: its secret (if it has one) proves nothing here.
            return False
        if request.client_id and request.client_id != request.client.client_id:
            # HTTP Basic named one client and the body's client_id another: one request, one
            # client (RFC 6749 §2.3). oauthlib would answer "server_error".
            raise errors.InvalidRequestError(
                description="client_id is not the client that authenticated.", request=request
            )
        return True

    def _authenticate_assertion(self, request: ValidatorRequest, assertion: str) -> bool:
        """Authenticate the client by its JWT assertion (OIDC Core 1.0 §9, RFC 7523 §2.2)."""
        if not assertion or "authorization" in {name.lower() for name in (request.headers or {})}:
            # RFC 6749 §2.3: one authentication method per request.
            return False
        client_id = request.client_id or assertion_subject(assertion)
        if not client_id or self._load_application(client_id, request) is None:
            return False
        client = request.client
        assert client is not None  # _load_application found it.
        if loaded_assertion(client) == assertion:
            # Checked, and its jti spent, earlier in this request (rate_limits.identify_client).
            state_of(request).authenticated_assertion = assertion
            return True
        path = urlsplit(request.uri or "").path
        issuer: str = oauth2_settings.OIDC_ISS_ENDPOINT
        audiences = {issuer, issuer + reverse("oidc_provider:token"), issuer + path}
        try:
            assertion_authenticate(client=client, assertion=assertion, audiences=audiences)
        except AssertionRefused as refusal:
            # Why, for the operator; never the assertion itself.
            logger.info("Client assertion for %s refused: %s", client.client_id, refusal)
            return False
        state_of(request).authenticated_assertion = assertion
        return True

    def validate_grant_type(
        self,
        client_id: str,
        grant_type: str,
        client: Client,
        request: ValidatorRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        # Each grant type must be registered for the client, refresh_token included: DOT lets
        # any client refresh (RFC 6749 §5.2 unauthorized_client otherwise).
        return grant_type in (client.grant_types or [])

    def validate_response_type(
        self,
        client_id: str,
        response_type: str,
        client: Client,
        request: ValidatorRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        # Only the types the client registered (Client.response_types): unauthorized_client
        # otherwise, and unsupported_response_type for a type Porchlight does not serve at all
        # (RFC 6749 §4.1.2.1). The words may come in any order (Multiple Response Types §3).
        normalized = response_type_normalized(response_type)
        if normalized is None:
            raise errors.UnsupportedResponseTypeError(request=request)
        if front_channel(normalized):
            self._front_channel_prepare(request)
        return normalized in (client.response_types or []) and GrantType.AUTHORIZATION_CODE in (
            client.grant_types or []
        )

    @staticmethod
    def _front_channel_prepare(request: ValidatorRequest) -> None:
        """Set up the state of a request that may issue tokens at the authorization endpoint.

        oauthlib validates the response type again just before it issues anything; by then the
        authorization view's credentials (the sign-in, the claims asked for) are on the request.
        Tokens sent through the browser are short-lived and never come with a refresh token
        (RFC 6749 §4.2.2; RFC 9700 §2.1.2).
        """
        state = state_of(request)
        state.front_channel = True
        state.expires_in_at_most = FRONT_CHANNEL_TOKEN_LIFETIME
        attributes = vars(request)
        if isinstance(attributes.get("auth_context"), dict):
            state.auth_context = attributes["auth_context"]
        state.requested_claims = claims_loaded(attributes.get("claims"))

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Client,
        request: ValidatorRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        if not super().validate_scopes(client_id, scopes, client, request, *args, **kwargs):
            return False
        # A client_credentials token has no user, so user scopes (identity scopes staff defined
        # too) mean nothing there.
        if request.grant_type != GrantType.CLIENT_CREDENTIALS:
            # Authorization requests are matched to their API by the view (authorization.py).
            return True
        if user_scopes_asked(scopes):
            return False
        # One token, one API (apis.py): the resource asked for, or the API of the scopes.
        request.resource = self._api_target(client, scopes, requested_resources(request), request)
        return True

    @staticmethod
    def _api_target(
        client: Client, scopes: list[str], resources: list[str], request: ValidatorRequest
    ) -> list[str]:
        """Return the audience of a token for ``scopes`` and ``resources``; refuse a mismatch (apis.py)."""
        try:
            return apis.api_target(client=client, scopes=scopes, resources=resources).resources
        except apis.ApiTargetError as error:
            # RFC 6749 §5.2 invalid_scope, RFC 8707 §2 invalid_target.
            raise errors.CustomOAuth2Error(
                error=error.error, description=error.description, request=request
            ) from None

    def is_pkce_required(self, client_id: str, request: ValidatorRequest) -> bool:
        # RFC 9700 §2.1.1: always for public clients; for confidential ones unless staff turned
        # it off for the client (which must then use nonce: authorization.authorization_check).
        client = request.client or Client.objects.filter(client_id=client_id).first()
        if client is None:
            return True
        return client.pkce_required

    # --- authorization request: decided in the view, which has the session ----------------

    def validate_silent_login(self, request: ValidatorRequest) -> bool:
        return True

    def validate_silent_authorization(self, request: ValidatorRequest) -> bool:
        return True

    def validate_user_match(
        self,
        id_token_hint: str | None,
        scopes: list[str],
        claims: dict[str, Any] | None,
        request: ValidatorRequest,
    ) -> bool:
        return True

    # --- authentication context: session -> grant -> tokens ------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> None:
        # Only the code's hash is stored (RFC 9700 §4.2); the client gets the code itself.
        digest = token_checksum(code["code"])
        super().save_authorization_code(client_id, {**code, "code": digest}, request, *args, **kwargs)
        # The sign-in behind the code: the authorization view hands it to oauthlib as a
        # credential, which oauthlib sets on the request.
        fields = auth_context_fields(request.auth_context)
        Grant.objects.filter(code=digest).update(**fields)
        # The app takes part in the session from its code on: it is told when the session ends.
        assert request.client is not None  # oauthlib validated the client_id first.
        session_client_record(sid=fields["session_id"], client=request.client)

    @staticmethod
    def _lock_grant(code: str, request: ValidatorRequest) -> Grant | None:
        """Lock and load the grant for ``code`` once per token request (codes are unique)."""
        state = state_of(request)
        if state.locked_code != code:
            state.locked_code, state.locked_grant = code, codes.grant_lock(code=code)
        return state.locked_grant

    def validate_code(
        self, client_id: str, code: str, client: Client, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> bool:
        # RFC 6749 §4.1.2: a code is used once. The grant row is locked until the token request
        # ends, so of concurrent redemptions exactly one wins; a replay revokes what the first
        # redemption issued (RFC 9700 §4.2.4) and is refused.
        grant = self._lock_grant(code, request)
        # A deactivated account's code buys nothing (RFC 6749 §5.2 invalid_grant), even one
        # issued just before.
        if grant is None or not codes.grant_redeemable(grant=grant, client=client) or not token_usable(grant):
            return False
        # A scope the client has lost since the code was issued is not issued (apis.py).
        request.scopes = apis.scopes_still_allowed(client, grant.scope.split())
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        state = state_of(request)
        state.auth_context = auth_context_of(grant)
        state.requested_claims = claims_loaded(grant.claims)
        state.token_family = uuid.uuid4()
        state.grant = grant
        return True

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> None:
        # oauthlib calls this once every check passed and the tokens are saved: the grant, still
        # locked, is kept as used until it expires so a replay is recognised (DOT deletes it).
        state = state_of(request)
        assert state.grant is not None and state.token_family is not None  # Set by validate_code.
        codes.grant_mark_used(grant=state.grant, token_family=state.token_family)

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Client,
        request: ValidatorRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = state_of(request).grant or codes.grant_for_code(code, client=client)
        if grant is None or not grant.redirect_uri_allowed(redirect_uri):
            # RFC 6749 §5.2: a redirect_uri that differs from the authorization request's is
            # invalid_grant (oauthlib would say invalid_request).
            raise errors.InvalidGrantError(
                description="redirect_uri does not match the authorization request.", request=request
            )
        return True

    def _check_and_set_request_resource(self, request: ValidatorRequest) -> None:
        grant = state_of(request).grant
        if request.grant_type != GrantType.AUTHORIZATION_CODE or grant is None:
            return super()._check_and_set_request_resource(request)
        # DOT would look the grant up by the code itself, which is stored only hashed, and so
        # find none; this request holds it locked already. DOT's parsing and URI checks run as
        # for a grant without a code, then the grant's rule.
        request.grant_type = None
        try:
            super()._check_and_set_request_resource(request)
        finally:
            request.grant_type = GrantType.AUTHORIZATION_CODE
        granted = grant.resource or []
        if request.resource and granted:
            # RFC 8707 §2.2: the token request may narrow the authorized resources, never widen them.
            for resource in request.resource:
                if resource not in granted:
                    raise errors.CustomOAuth2Error(
                        error="invalid_target",
                        description=f"The requested resource '{resource}' was not authorized.",
                        request=request,
                    )
        elif granted:
            # RFC 8707 §2: what was granted must still be valid resource indicators (as DOT says).
            for resource in granted:
                if not is_valid_resource_uri(resource):
                    raise invalid_resource_indicator(resource, request=request)
            request.resource = granted
        return None

    def get_code_challenge(self, code: str, request: ValidatorRequest) -> str | None:
        grant = state_of(request).grant
        return (grant.code_challenge if grant else super().get_code_challenge(code, request)) or None

    def get_code_challenge_method(self, code: str, request: ValidatorRequest) -> str | None:
        grant = state_of(request).grant
        return (
            grant.code_challenge_method if grant else super().get_code_challenge_method(code, request)
        ) or None

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: ValidatorRequest
    ) -> str | None:
        grant = state_of(request).grant
        return (
            grant.nonce
            if grant
            else super().get_authorization_code_nonce(client_id, code, redirect_uri, request)
        ) or None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: ValidatorRequest
    ) -> list[str]:
        # Asked before the client is authenticated (to pick the OIDC grant); only scopes leak
        # into that choice. The grant is locked here, the token request's one read of it, and
        # checked against the authenticated client in validate_code.
        grant = self._lock_grant(code, request)
        return grant.scope.split() if grant is not None else []

    def get_original_scopes(
        self, refresh_token: str, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> str:
        # RFC 6749 §6: a refresh may narrow the scopes, never widen them; and an API scope the
        # client has lost since is not reissued (apis.py), so asking for it is invalid_scope.
        original: str | list[str] = super().get_original_scopes(refresh_token, request, *args, **kwargs)
        scopes = original.split() if isinstance(original, str) else list(original)
        assert request.client is not None  # oauthlib authenticates the client first.
        return " ".join(apis.scopes_still_allowed(request.client, scopes))

    def validate_refresh_token(
        self, refresh_token: str, client: Client, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> bool:
        # Replaces DOT's check: the row is locked before anything is decided (refresh.py), so
        # one refresh token yields at most one successor however many requests race for it.
        decision = refresh_token_lock(value=refresh_token, client=client)
        token = decision.token
        if token is None or not token_usable(token):
            return False
        request.user = token.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = token
        state = state_of(request)
        # OIDC Core 1.0 §12.2: a refreshed ID token keeps the original auth_time/amr/acr.
        state.auth_context = auth_context_of(token)
        # The claims asked for by name go on being released (OIDC Core 1.0 §12.2: same claims).
        state.requested_claims = claims_loaded(token.claims)
        state.token_family = token.token_family
        state.retry_response = decision.retry
        if not token.offline:
            state.login_session, state.login_session_known = decision.session, True
        return True

    def save_bearer_token(
        self, token: dict[str, Any], request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> None:
        state = state_of(request)
        if state.retry_response is not None:
            # A retry within the grace window: the successor already issued, nothing new.
            token.clear()
            token.update(state.retry_response)
            return None
        if "refresh_token" in token and (state.front_channel or not self._may_issue_refresh_token(request)):
            del token["refresh_token"]
        if "expires_in" in token and getattr(request, "expires_in", None):
            # The token's API may set its own lifetime (access_tokens.py); the response says it.
            token["expires_in"] = request.expires_in
        # DOT wraps the save in a transaction of its own, a SAVEPOINT and its RELEASE inside the
        # token request's (views/token.py); one transaction is enough. Without a refresh token
        # the save is one INSERT (client_credentials, which runs in no outer transaction), atomic
        # on its own: no BEGIN and COMMIT round trips around it.
        saving = (
            transaction.atomic(using=router.db_for_write(AccessToken), savepoint=False)
            if "refresh_token" in token
            else contextlib.nullcontext()
        )
        with saving:
            self._save_bearer_token(token, request, *args, **kwargs)
        issued = state.issued_refresh_token
        if "refresh_token" in token and issued is not None:
            # Not in RFC 6749 §5.1, but read by many RP libraries (Keycloak's name); harmless
            # to others, which ignore unknown members.
            session = None if issued.offline else self._login_session(request)
            token["refresh_expires_in"] = refresh_token_remaining(issued, session=session)
        if state.rotated_refresh_token is not None:
            refresh_token_rotated(token=state.rotated_refresh_token, response=dict(token))
        return None

    def _save_bearer_token(
        self, token: dict[str, Any], request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> None:
        rotated = getattr(request, "refresh_token_instance", None)
        rotating = isinstance(rotated, RefreshToken) and self.rotate_refresh_token(request)
        if not rotating or "refresh_token" not in token:
            return super()._save_bearer_token(token, request, *args, **kwargs)
        # RFC 9700 §4.14.2 rotation of the token validate_refresh_token locked (refresh.py): the
        # successor pair is saved here and the old token revoked once the response is known
        # (refresh_token_rotated). DOT's path locks the row again, looks for a successor it
        # cannot have and revokes field by field: ten statements more.
        if "scope" not in token:
            raise errors.FatalClientError("Failed to renew access token: missing scope")
        self._check_and_set_request_resource(request)
        lifetime = token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        expires = timezone.now() + timedelta(seconds=lifetime)
        access_token = self._create_access_token(expires, request, token, source_refresh_token=rotated)
        self._create_refresh_token(request, token["refresh_token"], access_token, rotated)
        state_of(request).rotated_refresh_token = rotated
        return None

    def _may_issue_refresh_token(self, request: ValidatorRequest) -> bool:
        """Decide whether this token response carries a refresh token (OIDC Core 1.0 §11).

        Only clients registered for the refresh_token grant get one. With offline_access granted
        it is an offline token; otherwise it is bound to the user's sign-in session and dies
        with it, so it never outlives the user's presence at the provider.
        """
        client = request.client
        if client is None or GrantType.REFRESH_TOKEN not in (client.grant_types or []):
            return False
        if "offline_access" in (request.scopes or []):
            return True
        return self._login_session(request) is not None

    @staticmethod
    def _login_session(request: ValidatorRequest) -> LoginSession | None:
        """Return the live sign-in session of this request's tokens, looked up once per request."""
        state = state_of(request)
        if not state.login_session_known:
            state.login_session = login_session_active(state.auth_context.get("session_id") or "")
            state.login_session_known = True
        return state.login_session

    def _create_access_token(
        self,
        expires: datetime,
        request: ValidatorRequest,
        token: dict[str, Any],
        source_refresh_token: RefreshToken | None = None,
    ) -> AccessToken:
        # finalize_id_token left the ID token's record here, as DOT's does.
        id_token = getattr(request, "id_token", None)
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token if isinstance(id_token, IDTokenRecord) else None,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
            token_family=self._token_family(request),
            act=state_of(request).act,
            claims=state_of(request).requested_claims,
            **auth_context_fields(state_of(request).auth_context),
        )
        set_token_value(access_token, token["access_token"])
        ACCESS_TOKEN_INSERT.save(access_token)
        return access_token

    def _create_refresh_token(
        self,
        request: ValidatorRequest,
        refresh_token_code: str,
        access_token: AccessToken,
        previous_refresh_token: RefreshToken | None,
    ) -> RefreshToken:
        # DOT's, with the authentication context written in the same INSERT.
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            # A rotated token stays in its family, so reuse can revoke them all (RFC 9700 §4.14.2).
            token_family=self._token_family(request),
            # A rotated token keeps its kind: scopes narrowed at refresh don't change it.
            offline=(
                previous_refresh_token.offline
                if previous_refresh_token
                else "offline_access" in (request.scopes or [])
            ),
            resource=getattr(request, "resource", []),
            claims=state_of(request).requested_claims,
            **auth_context_fields(state_of(request).auth_context),
        )
        set_token_value(refresh_token, refresh_token_code)
        refresh_token.save()
        state_of(request).issued_refresh_token = refresh_token
        return refresh_token

    @staticmethod
    def _token_family(request: ValidatorRequest) -> uuid.UUID:
        """Return the family of the tokens issued now: the code's or refresh token's, else a new one."""
        state = state_of(request)
        if state.token_family is None:
            state.token_family = uuid.uuid4()
        return state.token_family

    # --- ID tokens and UserInfo ------------------------------------------------------------

    def finalize_id_token(
        self,
        id_token: dict[str, Any],
        token: dict[str, Any],
        token_handler: object,
        request: ValidatorRequest,
    ) -> str:
        """Issue the ID token (OIDC Core 1.0 §2, §3.1.3.6) for this token response."""
        retry = state_of(request).retry_response
        if retry is not None and "id_token" in retry:
            # A retried refresh gets the response it missed, ID token included (refresh.py).
            sent: str = retry["id_token"]
            return sent
        user, client, audience, scopes = request.user, request.client, request.client_id, request.scopes
        # oauthlib asks for the ID token once the client has authenticated and the grant (code,
        # refresh token or device code) has named the user and the scopes.
        assert user is not None and client is not None and audience is not None and scopes is not None
        state = state_of(request)
        requested = list(state.requested_claims.get("id_token", []))
        if state.front_channel and vars(request).get("response_type") == ResponseType.ID_TOKEN:
            # OIDC Core 1.0 §5.4: with no access token issued there is no UserInfo to ask, so
            # the claims the scopes (and the claims parameter) release there go in the ID token.
            requested += [*released_claims(scopes, "userinfo"), *state.requested_claims.get("userinfo", [])]
        issued = IDToken.issue(
            user=user,
            client=client,
            audience=audience,
            scopes=scopes,
            requested_claims=requested,
            acr_values=state.requested_claims.get("acr", []),
            auth_context=state.auth_context,
            nonce=id_token.get("nonce") or request.nonce,
            access_token=token.get("access_token"),
            code=token.get("code"),
            lifetime=FRONT_CHANNEL_TOKEN_LIFETIME if state.front_channel else None,
        )
        if state.front_channel:
            # No code to record it (save_authorization_code): the app takes part in the session
            # from this ID token on, and is told when the session ends.
            session_client_record(sid=state.auth_context.get("session_id") or "", client=client)
        # As DOT's: the access token saved next links to the record (_create_access_token).
        request.id_token = request.access_token = issued.record
        return issued.to_jwt()

    def get_userinfo_claims(self, request: ValidatorRequest) -> dict[str, Any]:
        # Asked with a validated access token, which names the user and the scopes.
        assert request.user is not None and request.scopes is not None and request.client is not None
        return userinfo_claims(request.user, request.scopes, request.client)

    def get_oidc_claims(
        self, token: dict[str, Any], token_handler: object, request: ValidatorRequest
    ) -> dict[str, Any]:
        return self.get_userinfo_claims(request)

    def validate_jwt_bearer_token(self, token: str, scopes: list[str], request: ValidatorRequest) -> bool:
        # oauthlib routes any "ey…" bearer token here, and DOT would accept an ID token as an
        # access token. Only access tokens are bearer credentials (OIDC Core §5.3.1, RFC 9068
        # §4): a JWT access token is checked like any other, by its stored checksum.
        return self.validate_bearer_token(token, scopes, request)

    def validate_id_token(self, token: str, scopes: list[str], request: ValidatorRequest) -> bool:
        # DOT's validate_jwt_bearer_token (replaced above) is what calls this; should anything
        # else, an ID token is still no bearer credential (OIDC Core §5.3.1, RFC 9068 §4).
        return False

    # --- device authorization grant (RFC 8628): hooks for oauthlib's DeviceCodeGrant -------
    # The grant runs in oauthlib; the rows, single use and slow_down live in device.py.

    def validate_device_code(
        self, client_id: str, code: str, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> str | None:
        """Return the RFC 8628 §3.5 status of ``code`` for the authenticated client; redeem it if approved."""
        assert request.client is not None  # oauthlib's grant authenticates the client first.
        poll = device.device_code_redeem(client=request.client, device_code=code)
        if poll.grant is not None:
            # RFC 8628 §3.4: the token carries what the user approved, whatever the poll asks.
            request.user = poll.grant.user
            request.scopes = apis.scopes_still_allowed(request.client, poll.grant.scope.split())
            state_of(request).auth_context = auth_context_of(poll.grant)
            # One token, one API: the API of the approved scopes is the audience (apis.py).
            request.resource = self._api_target(request.client, request.scopes, [], request)
        return poll.status

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> None:
        """Revoke as DOT does (RFC 7009 §2.1), recording which of the client's tokens went."""
        client = request.client
        if client is None or client.pk is None:
            # No stored client: DOT revokes nothing, and so there is nothing to record.
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
            return
        found = client_tokens_find(value=token, client=client)
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        for row in found:
            audit_record(
                action=Action.TOKEN_REVOKE,
                target=row.user or client,
                actor_label=f"client {client.client_id}",
                detail={
                    "token": "access token" if isinstance(row, AccessToken) else "refresh token",
                    "id": row.pk,
                    "client_id": client.client_id,
                    "reason": "revocation endpoint (RFC 7009)",
                },
                request=self.build_http_request(request),
            )

    def save_token(
        self, token: dict[str, Any], request: ValidatorRequest, *args: Any, **kwargs: Any
    ) -> object:
        # oauthlib's device grant has no OIDC variant, so it never adds an ID token; add it here,
        # before the tokens are saved (so the access token links to it), when openid was granted.
        if request.grant_type == GrantType.DEVICE_CODE and "openid" in (request.scopes or []):
            token["id_token"] = self.finalize_id_token({}, token, None, request)
        return super().save_token(token, request, *args, **kwargs)
