"""The scopes relying parties may request (DOT scopes backend)."""

from oauth2_provider.scopes import BaseScopes

from .claims import SCOPE_DESCRIPTIONS

# Scopes that only clients with the client_credentials grant may ask for would go here; the
# public list is what discovery's scopes_supported shows (DESIGN gap 5: no internal scopes).
PUBLIC_SCOPES = list(SCOPE_DESCRIPTIONS)


class PorchlightScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPE_DESCRIPTIONS)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return list(PUBLIC_SCOPES)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # RFC 6749 §3.3: without scope, grant the minimum. A token with no user (the
        # client_credentials grant) gets no user scope at all, whatever else the client may do.
        if getattr(request, "grant_type", None) == "client_credentials":
            return []
        if application is not None and "authorization_code" not in (application.grant_types or []):
            return []
        return ["openid"]
