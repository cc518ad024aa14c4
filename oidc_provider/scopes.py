"""The scopes relying parties may request (DOT scopes backend)."""

from typing import Any

from oauth2_provider.scopes import BaseScopes
from oauthlib.common import Request

from .apis import allowed_api_scopes, api_scope_names
from .custom_claims import identity_scopes
from .models import ApiScope, Client, GrantType
from .standard_claims import SCOPE_DESCRIPTIONS

# What discovery's scopes_supported shows (docs/design.md, gap 5: no internal scopes). APIs'
# scopes are not listed: OIDC Discovery 1.0 §3 lets a provider leave scopes out, and which a
# client may have is between it and staff (docs/apis.md).
PUBLIC_SCOPES = list(SCOPE_DESCRIPTIONS)


def public_scopes() -> list[str]:
    """Return every scope a client may ask for: the built-in ones, then the identity scopes staff defined."""
    return [*PUBLIC_SCOPES, *(scope for scope in identity_scopes() if scope not in SCOPE_DESCRIPTIONS)]


def available_scopes(application: Client, asked: list[str] | None) -> list[str]:
    """Return the scopes ``application`` may have, of the API scopes only those of ``asked``.

    ``asked`` None: every API scope the client is allowed (a listing, not a request).
    """
    scopes = public_scopes()
    if not getattr(application, "release_groups", False):
        # Group names go only to clients staff allowed them; asking anyway is invalid_scope
        # (RFC 6749 §4.1.2.1, §5.2).
        scopes.remove("groups")
    # The API scopes staff allowed this client (apis.py); any other is invalid_scope. A
    # request that asks for none needs no lookup (the token endpoint's hottest path).
    wanted = None if asked is None else api_scope_names(asked)
    if wanted == []:
        return scopes
    return scopes + allowed_api_scopes(application, None, wanted)


def default_scopes(application: Client | None, grant_type: str | None) -> list[str]:
    """Return the scopes a request of ``grant_type`` gets when it asks for none (RFC 6749 §3.3)."""
    # Grant the minimum. A token with no user (the client_credentials grant) gets no user scope
    # at all, whatever else the client may do.
    if grant_type == GrantType.CLIENT_CREDENTIALS:
        return []
    user_grants = {GrantType.AUTHORIZATION_CODE, GrantType.DEVICE_CODE}
    if application is not None and not user_grants.intersection(application.grant_types or []):
        return []
    return ["openid"]


class PorchlightScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return {
            **identity_scopes(),
            **SCOPE_DESCRIPTIONS,
            **dict(ApiScope.objects.values_list("name", "description")),
        }

    def get_available_scopes(
        self, application: Client | None = None, request: Request | None = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return public_scopes()
        asked = getattr(request, "scopes", None) if request is not None else None
        return available_scopes(application, asked)

    def get_default_scopes(
        self, application: Client | None = None, request: Request | None = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return default_scopes(application, getattr(request, "grant_type", None))
