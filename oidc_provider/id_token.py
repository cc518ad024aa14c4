"""The ID token (OIDC Core 1.0 §2): what the token request established, as claims, signed.

``IDToken.issue`` records a new ID token (the row's ``jti`` is what logout's ``id_token_hint``
and the access tokens issued with it refer to) and returns what it says; ``to_dict()`` turns
that into the claims set, the user's claims coming from ``claims.py`` (the one path UserInfo
and discovery share), and ``to_jwt()`` signs it with the client's ID token algorithm
(``keys.py``). The validator's ``finalize_id_token`` only gathers the inputs.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from accounts.models import User

from . import keys, models
from .claims import auth_context_claims, claims_for
from .subjects import subject_for


@dataclass(frozen=True)
class IDToken:
    """One ID token: who signed in, to which client, when and how, and what came with it."""

    user: User
    client: models.Client
    # The client_id the token request named: aud, and azp (OIDC Core 1.0 §2).
    audience: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    # The stored record of this token.
    record: models.IDToken
    # auth_time (epoch seconds), amr, acr and session_id of the sign-in (OIDC Core 1.0 §2).
    auth_context: Mapping[str, Any] = field(default_factory=dict)
    nonce: str | None = None
    # The access token and code issued in the same response, for at_hash and c_hash.
    access_token: str | None = None
    code: str | None = None
    # The claims the authorization request asked for in the ID token by name (OIDC Core 1.0
    # §5.5), and the acr values an essential acr request named (§5.5.1.1).
    requested_claims: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()

    @classmethod
    def issue(
        cls,
        *,
        user: User,
        client: models.Client,
        audience: str,
        scopes: list[str],
        auth_context: Mapping[str, Any],
        nonce: str | None = None,
        access_token: str | None = None,
        code: str | None = None,
        requested_claims: Sequence[str] = (),
        acr_values: Sequence[str] = (),
        lifetime: int | None = None,
    ) -> "IDToken":
        """Record a new ID token for ``user`` at ``client`` and return it.

        ``lifetime`` shortens it below the configured one (the authorization endpoint's tokens,
        response_types.py).
        """
        configured: int = oauth2_settings.ID_TOKEN_EXPIRE_SECONDS
        lifetime = configured if lifetime is None else min(lifetime, configured)
        issued_at = int(time.time())
        record = models.IDToken.objects.create(
            user=user,
            scope=" ".join(scopes),
            expires=timezone.now() + timedelta(seconds=lifetime),
            application=client,
            session_id=auth_context.get("session_id") or "",
        )
        return cls(
            user=user,
            client=client,
            audience=audience,
            scopes=tuple(scopes),
            issued_at=issued_at,
            expires_at=issued_at + lifetime,
            record=record,
            auth_context=auth_context,
            nonce=nonce,
            access_token=access_token,
            code=code,
            requested_claims=tuple(requested_claims),
            acr_values=tuple(acr_values),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the claims set: the user's claims the scopes release, then the protocol's."""
        claims: dict[str, Any] = {
            **claims_for(self.user, self.scopes, target="id_token", requested=self.requested_claims),
            "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
            "sub": subject_for(self.user, self.client),
            "aud": self.audience,
            "azp": self.audience,
            "iat": self.issued_at,
            "exp": self.expires_at,
            **auth_context_claims(self.auth_context, acr_values=self.acr_values),
        }
        session_id = self.auth_context.get("session_id")
        if session_id:
            # Front-Channel and Back-Channel Logout 1.0: the session the apps are told about.
            claims["sid"] = session_id
        if self.nonce:
            claims["nonce"] = self.nonce
        # OIDC Core 1.0 §3.1.3.6, §3.3.2.11: the left half of the hash of what came with it.
        algorithm = self.client.algorithm
        if self.access_token:
            claims["at_hash"] = keys.token_hash(self.access_token, algorithm)
        if self.code:
            claims["c_hash"] = keys.token_hash(self.code, algorithm)
        claims["jti"] = str(self.record.jti)
        return claims

    def to_jwt(self) -> str:
        """Sign the claims with the client's algorithm: HS256 with its secret, else a published key."""
        algorithm = self.client.algorithm
        if algorithm == models.Algorithm.HS256:
            return keys.sign_with_secret(self.to_dict(), client=self.client)
        return keys.sign(self.to_dict(), algorithm=algorithm)
