"""Writes that carry logic: creating clients and resetting their secrets."""

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret

from .models import Algorithm, Client, GrantType


@transaction.atomic
def client_create(
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    grant_types: list[str] | None = None,
    skip_consent: bool = False,
    algorithm: str = Algorithm.RS256,
    allowed_origins: list[str] | None = None,
    access_token_format: str = Client.AccessTokenFormat.JWT,
) -> tuple[Client, str | None]:
    """Create a client and return it with its cleartext secret (None for a public client).

    The secret is returned exactly once: only its hash is stored.
    """
    grant_types = list(dict.fromkeys(grant_types or [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN]))
    if public and GrantType.CLIENT_CREDENTIALS in grant_types:
        raise ValidationError("A public client cannot use the client_credentials grant (RFC 6749 §4.4).")
    if GrantType.AUTHORIZATION_CODE in grant_types and not redirect_uris:
        raise ValidationError("The authorization_code grant needs at least one redirect URI.")
    secret = None if public else generate_client_secret()
    client = Client(
        name=name,
        client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
        grant_types=grant_types,
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        allowed_origins=" ".join(allowed_origins or []),
        skip_authorization=skip_consent,
        algorithm=algorithm,
        access_token_format=access_token_format,
        client_secret=secret or "",
        hash_client_secret=True,
    )
    client.full_clean()
    client.save()
    return client, secret


@transaction.atomic
def client_secret_reset(*, client: Client) -> str:
    """Give a confidential client a new generated secret and return it (shown once)."""
    if client.client_type != Client.CLIENT_CONFIDENTIAL:
        raise ValidationError("Only confidential clients have a secret.")
    secret = generate_client_secret()
    client.client_secret = secret
    # An HS256 client's encrypted copy follows its secret (Client.save).
    client.save(update_fields=["client_secret", "client_secret_encrypted", "updated"])
    return secret
