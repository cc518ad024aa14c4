"""Authlib's Django OAuth client, configured for one upstream provider.

Authlib keeps the authorization request's ``state``, ``nonce`` and PKCE ``code_verifier`` in the
session (keyed by the state), redeems the code, and validates the ID token: its signature
against the upstream's JWKS (with the algorithms discovery lists), ``iss``, ``aud``, ``exp``,
``iat``, ``nonce``, ``azp`` and ``at_hash`` (OIDC Core 1.0 §3.1.3.7). Porchlight only configures
it: which claims are essential and what they must equal.
"""

from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from django.urls import reverse
from joserfc.errors import JoseError
from oauth2_provider.settings import oauth2_settings

from accounts import encryption

from .models import UpstreamProvider

# Seconds each request to an upstream may take (connect and each read): a slow upstream gives
# the person an error page within this, not a hanging one.
TIMEOUT = 10
GITHUB_WEB = "https://github.com"
GITHUB_API = "https://api.github.com"
USER_AGENT = "Porchlight upstream sign-in"

# What can go wrong talking to an upstream or reading its answers: an OAuth error it returned, a
# state that matches nothing, a token that fails validation, an unreachable or slow server, a
# body that is not the JSON it should be, discovery without a needed entry.
UPSTREAM_ERRORS: tuple[type[Exception], ...] = (
    AuthlibBaseError,
    JoseError,
    requests.RequestException,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    RuntimeError,
)


def redirect_uri(provider: UpstreamProvider) -> str:
    """Return the redirect URI to register at the upstream for ``provider``, at the issuer's origin."""
    issuer = urlsplit(oauth2_settings.OIDC_ISS_ENDPOINT)
    return f"{issuer.scheme}://{issuer.netloc}{reverse('upstream:callback', args=[provider.slug])}"


def client_secret(provider: UpstreamProvider) -> str:
    return (
        encryption.decrypt(provider.client_secret_encrypted).decode()
        if provider.client_secret_encrypted
        else ""
    )


def oauth_app(provider: UpstreamProvider) -> DjangoOAuth2App:
    """Return Authlib's client for ``provider``, with its state kept under the provider's name."""
    kwargs: dict = {
        "client_kwargs": {
            "scope": provider.scopes,
            # RFC 7636 §4.2: S256 on every request, whatever the upstream advertises.
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT,
        },
        "user_agent": USER_AGENT,
    }
    if provider.kind == UpstreamProvider.Kind.GITHUB:
        web = (provider.web_base_url or GITHUB_WEB).rstrip("/")
        kwargs.update(
            authorize_url=f"{web}/login/oauth/authorize",
            access_token_url=f"{web}/login/oauth/access_token",
            api_base_url=(provider.api_base_url or GITHUB_API).rstrip("/") + "/",
        )
        # GitHub answers the token request in JSON only when asked to.
        kwargs["access_token_params"] = None
    else:
        kwargs["server_metadata_url"] = provider.discovery_url
    return DjangoOAuth2App(
        DjangoIntegration(f"upstream-{provider.pk}"),
        name=f"upstream-{provider.pk}",
        client_id=provider.client_id,
        client_secret=client_secret(provider),
        **kwargs,
    )


def id_token_claims_options(app: DjangoOAuth2App) -> dict:
    """Return what the ID token's registered claims must be (OIDC Core 1.0 §3.1.3.7, steps 2-3, 9)."""
    metadata = app.load_server_metadata()
    return {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "values": [app.client_id]},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
    }
