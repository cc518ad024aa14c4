"""What a stored token says about itself (RFC 7662 §2.2), and revoking a user's tokens."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import revoke_access_token
from oauth2_provider.settings import oauth2_settings

from .models import AccessToken, Client, RefreshToken


def _subject(token) -> str:
    # RFC 9068 §2.2: with no end user (client_credentials) the subject is the client.
    return token.user.subject if token.user_id else token.application.client_id


def access_token_claims(token: AccessToken) -> dict:
    """Return the introspection response for a valid access token."""
    data = {
        "active": True,
        "token_type": "Bearer",
        "scope": token.scope,
        "client_id": token.application.client_id,
        "sub": _subject(token),
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": token.resource or [token.application.client_id],
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
    }
    if token.user_id:
        data["username"] = token.user.get_username()
    if token.auth_time:
        data["auth_time"] = int(token.auth_time.timestamp())
    if token.acr:
        data["acr"] = token.acr
    return data


def refresh_token_expires(token: RefreshToken):
    """Return when an unused refresh token dies: its access token's expiry plus the idle lifetime."""
    if token.access_token is None:
        return None
    return token.access_token.expires + timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)


def refresh_token_claims(token: RefreshToken) -> dict | None:
    """Return the introspection response for a live refresh token, or None if it is dead."""
    expires = refresh_token_expires(token)
    if token.revoked is not None or expires is None or expires <= timezone.now():
        return None
    return {
        "active": True,
        "token_type": "refresh_token",
        "scope": token.access_token.scope,
        "client_id": token.application.client_id,
        "sub": _subject(token),
        "username": token.user.get_username(),
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "exp": int(expires.timestamp()),
        "iat": int(token.created.timestamp()),
    }


@transaction.atomic
def user_tokens_revoke(*, user, client: Client) -> int:
    """Revoke every access and refresh token ``client`` holds for ``user``; return how many."""
    count = 0
    for refresh in RefreshToken.objects.filter(user=user, application=client, revoked__isnull=True):
        refresh.revoke()
        count += 1
    for access in AccessToken.objects.filter(user=user, application=client):
        revoke_access_token(access)
        count += 1
    return count
