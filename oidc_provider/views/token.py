"""The token endpoint (RFC 6749 §3.2) and revocation (RFC 7009): DOT's, with no-store errors."""

from oauth2_provider.views import RevokeTokenView as DotRevokeTokenView
from oauth2_provider.views import TokenView as DotTokenView


class TokenView(DotTokenView):
    pass


class RevokeTokenView(DotRevokeTokenView):
    pass
