"""The oauthlib server behind DOT's views: oauthlib's OpenID Connect one, with Porchlight's grants.

oauthlib routes a token request to the grant registered for its ``grant_type``; extension grants
are added to that table the way oauthlib adds its own (RFC 6749 §4.5). It routes an
authorization request by its ``response_type`` as written, so each order of a multi-word type's
words is routed like the canonical one (Multiple Response Types §3: the order does not matter).
"""

from itertools import permutations
from typing import Any

from oauthlib.oauth2.rfc6749.request_validator import RequestValidator
from oauthlib.openid import Server as OpenIDServer

from .models import GrantType
from .token_exchange import TokenExchangeGrant


class Server(OpenIDServer):
    def __init__(self, request_validator: RequestValidator, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        # RFC 8693 §2.1: urn:ietf:params:oauth:grant-type:token-exchange.
        self.token_exchange_grant = TokenExchangeGrant(request_validator)
        self.grant_types[GrantType.TOKEN_EXCHANGE] = self.token_exchange_grant
        for response_type, handler in list(self.response_types.items()):
            for words in permutations(response_type.split()):
                self.response_types.setdefault(" ".join(words), handler)
