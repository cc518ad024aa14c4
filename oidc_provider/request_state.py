"""What the validator learns during one token request and reads back later in the same request.

oauthlib calls the validator's hooks one after another with one ``oauthlib.common.Request``:
``validate_code`` or ``validate_refresh_token`` first, then the token generator, then
``finalize_id_token`` and ``save_bearer_token``. Facts found early (the locked code, the sign-in
behind it, a retry's stored response) are needed late. DOT and oauthlib keep their own facts as
attributes of that request (``client``, ``user``, ``scopes``, ``nonce``, ``resource``,
``refresh_token_instance``, ``id_token``) and read them in their own code, so those stay where
they are; Porchlight's live in one ``TokenRequestState``, reached only through ``state_of``.

``state_of`` reads the request's own attributes, never through ``Request.__getattr__``: that
answers any name the client sent as a parameter, so a body with ``_retry_response=x`` would
otherwise pass for state (and end the request in a 500).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from oauthlib.common import Request

from accounts.models import LoginSession, User

from .models import AccessToken, AuthContextFields, Client, Grant, IDToken, RefreshToken

_ATTRIBUTE = "porchlight_state"

if TYPE_CHECKING:

    class ValidatorRequest(Request):
        """oauthlib's request as the validator's hooks receive it, for the type checker only.

        oauthlib's stubs declare what oauthlib sets as ``Any | None`` and nothing of what DOT and
        the authorization view add; these are the types Porchlight reads them with. At run time
        it is ``oauthlib.common.Request`` itself.
        """

        # None until DOT has authenticated the client (or loaded it by client_id) and until a
        # grant has named the user and scopes.
        client: Client | None
        client_id: str | None
        user: User | None
        scopes: list[str] | None
        nonce: str | None
        # Credentials oauthlib sets from the authorization view: how the user signed in.
        auth_context: dict[str, Any]
        # DOT's: the RFC 8707 resources, the refresh token being used, the ID token's record.
        resource: list[str]
        refresh_token_instance: RefreshToken
        id_token: IDToken

else:
    ValidatorRequest = Request


@dataclass
class TokenRequestState:
    """Porchlight's facts about one token request, set by one validator hook and read by others."""

    # The sign-in the tokens speak for (auth_time in epoch seconds, amr, acr, session_id), from
    # the code, the refresh token or the device grant (OIDC Core 1.0 §2, §12.2).
    auth_context: dict[str, Any] = field(default_factory=dict)
    # The claims the authorization request asked for by name (OIDC Core 1.0 §5.5), from the
    # code or the refresh token, in requested_claims.claims_stored's shape.
    requested_claims: dict[str, list[str]] = field(default_factory=dict)
    # The family of the tokens issued now: the code's or the refresh token's (RFC 9700 §4.14.2).
    token_family: uuid.UUID | None = None
    # The code this request locked the grant row of, and that row (None: no such code).
    locked_code: str | None = None
    locked_grant: Grant | None = None
    # The locked grant once validate_code accepted it for the authenticated client.
    grant: Grant | None = None
    # A retried refresh within the grace window: the response to send again (refresh.py).
    retry_response: dict[str, Any] | None = None
    # The live sign-in session of a session-bound refresh, once looked up (None: none is live).
    login_session: LoginSession | None = None
    login_session_known: bool = False
    # The refresh token saved now, and the one it replaces (revoked once the response is known).
    issued_refresh_token: RefreshToken | None = None
    rotated_refresh_token: RefreshToken | None = None
    # Token exchange (token_exchange.py): the new token's actor claim (RFC 8693 §4.1) and the
    # seconds the subject token has left, which the new token never outlives.
    act: dict[str, Any] | None = None
    expires_in_at_most: int | None = None
    exchanged_from: AccessToken | None = None
    # Tokens issued by the authorization endpoint (implicit and hybrid, response_types.py):
    # short-lived, and never a refresh token.
    front_channel: bool = False
    # The client assertion that authenticated the client (client_auth.py): its jti is spent, so
    # a second check in the same request must not spend it again.
    authenticated_assertion: str | None = None


def state_of(request: Request) -> TokenRequestState:
    """Return the state of ``request``, attaching an empty one the first time."""
    state = vars(request).get(_ATTRIBUTE)
    if state is None:
        state = TokenRequestState()
        setattr(request, _ATTRIBUTE, state)
    return state


def auth_context_of(row: AuthContextFields) -> dict[str, Any]:
    """Return the authentication context a grant or token row stores, as the state holds it."""
    return {
        "auth_time": int(row.auth_time.timestamp()) if row.auth_time else None,
        "amr": list(row.amr or []),
        "acr": row.acr,
        "session_id": row.session_id,
    }


def auth_context_fields(context: Mapping[str, Any]) -> dict[str, Any]:
    """Return the row fields that store the authentication ``context`` (grants and tokens)."""
    auth_time = context.get("auth_time")
    return {
        "auth_time": datetime.fromtimestamp(auth_time, tz=UTC) if auth_time else None,
        "amr": list(context.get("amr") or []),
        "acr": context.get("acr") or "",
        "session_id": context.get("session_id") or "",
    }
