"""An upstream provider's back-channel logout: validate its logout token, end the sessions it began.

OIDC Back-Channel Logout 1.0 §2.6 lists the checks; the signature and the registered claims are
checked by joserfc (the JOSE library Authlib uses) against the upstream's JWKS, which Authlib
fetches from its discovery document. The sessions end as any other ended session does
(accounts/sessions.py ``login_sessions_end``): their tokens are revoked and Porchlight's own apps
are told by their front- and back-channel logout, as on single sign-out.
"""

from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from accounts.models import LoginSession
from accounts.sessions import login_sessions_end
from audit.actions import Action
from audit.services import audit_record

from .clients import UPSTREAM_ERRORS, oauth_app
from .models import UpstreamProvider, UpstreamSession

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# §2.6 step 7 (optional): a jti seen within this many seconds is a replay.
JTI_MEMORY = 10 * 60


class LogoutTokenInvalid(Exception):
    """The logout token fails a §2.6 check; the message says which (it goes back to the upstream)."""


def logout_token_claims(provider: UpstreamProvider, token: str) -> dict:
    """Return the claims of ``token`` once every §2.6 check passed; raise ``LogoutTokenInvalid``."""
    if not token:
        raise LogoutTokenInvalid("logout_token is missing")
    app = oauth_app(provider)
    try:
        metadata = app.load_server_metadata()
        # §2.6 step 2: signed with a key of the upstream's, by an algorithm it announces for ID tokens.
        registry = JWSRegistry(algorithms=metadata.get("id_token_signing_alg_values_supported") or ["RS256"])
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(app.fetch_jwk_set()), registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(
                token, KeySet.import_key_set(app.fetch_jwk_set(force=True)), registry=registry
            )
        # §2.6 step 3: iss, aud and iat as for an ID token (and exp, when present).
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": provider.client_id},
            iat={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
    except JoseError as exc:
        raise LogoutTokenInvalid(f"the logout token is not valid: {exc}") from exc
    except UPSTREAM_ERRORS as exc:
        raise LogoutTokenInvalid(f"the upstream's keys could not be read: {type(exc).__name__}") from exc
    claims = decoded.claims
    # §2.6 step 4: a sub, a sid, or both.
    if not (isinstance(claims.get("sub"), str) or isinstance(claims.get("sid"), str)):
        raise LogoutTokenInvalid("the logout token has neither sub nor sid")
    # §2.6 step 5: the back-channel logout event, as a JSON object.
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise LogoutTokenInvalid("the logout token has no back-channel logout event")
    # §2.6 step 6: no nonce (so an ID token cannot pass for a logout token).
    if "nonce" in claims:
        raise LogoutTokenInvalid("a logout token carries no nonce")
    # §2.6 step 7: one jti, once.
    if not cache.add(f"upstream-logout-jti:{provider.pk}:{claims['jti']}", 1, JTI_MEMORY):
        raise LogoutTokenInvalid("this logout token was already received")
    return dict(claims)


def logout_token_accept(request: HttpRequest, *, provider: UpstreamProvider, token: str) -> int:
    """End the sign-in sessions the logout token names (§2.7); return how many ended."""
    claims = logout_token_claims(provider, token)
    sid, sub = claims.get("sid"), claims.get("sub")
    began = Q(provider=provider)
    # §2.7: the sessions of that upstream session (sid) of that user (sub); with only sub, all of
    # the user's sessions begun through this upstream.
    if isinstance(sid, str):
        began &= Q(upstream_sid=sid)
    if isinstance(sub, str):
        began &= Q(upstream_subject=sub)
    sessions = LoginSession.objects.filter(
        pk__in=UpstreamSession.objects.filter(began).values("login_session")
    )
    # Ended as when the person ends one of their sessions: that browser's session is deleted too.
    ended = login_sessions_end(sessions=sessions, reason=LoginSession.EndReason.ENDED_BY_USER)
    audit_record(
        action=Action.UPSTREAM_LOGOUT,
        target=provider.slug,
        actor_label=f"upstream {provider.slug}",
        detail={"provider": provider.slug, "sessions": ended, "sid": sid or "", "sub": sub or ""},
        request=request,
    )
    return ended
