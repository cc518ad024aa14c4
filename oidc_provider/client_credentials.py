"""The client_credentials grant (RFC 6749 §4.4), answered without oauthlib's token endpoint.

The token view authenticates the client before anything else, to count the request against its
budget (``rate_limits.identify_client``). For this grant nothing is left after that but RFC 6749
§4.4.2 and §4.4.3: the client may use the grant, the scopes are ones it may have (the scopes
backend's rule and no user scope, ``scopes.available_scopes``, ``user_scopes_asked``), the
scopes and resources name one audience (RFC 8707, ``apis.api_target``), every resource is a
valid indicator, and one access token is saved and sent (§5.1) or the error is (§5.2). oauthlib's
path ran the same rules through a second oauthlib request, its grant and DOT's save, which built
and decoded the request again; this runs them on the Django request, in the same order, with the
same errors (oauthlib's error classes, so the same JSON, ``state`` included) and the same row.

Only a client that authenticated here comes this way (the view decides); any other request goes
through oauthlib as before, whose ``invalid_client`` answer this would only repeat.
"""

import json
import uuid
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.oauth2_validators import is_valid_resource_uri
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.utils import scope_to_list

from ground.checksums import token_checksum
from ground.prepared_queries import PreparedInsert

from . import apis
from .access_tokens import client_credentials_access_token
from .models import AccessToken, Client, GrantType
from .oauth2_validators import invalid_resource_indicator, user_scopes_asked
from .request_state import auth_context_fields
from .scopes import available_scopes, default_scopes

# RFC 6749 §5.1: the token response (and §5.2 its errors) is JSON and never stored.
HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}

# The row the validator's _create_access_token writes for this grant, whose columns are the same
# for every such token: no user, ID token, source refresh token, actor, requested claims or
# sign-in. One prepared INSERT, atomic on its own (no transaction), without building the model
# object; these columns' database values are prepared once per connection.
TOKEN_INSERT = PreparedInsert(
    AccessToken,
    fixed={
        "user_id": None,
        "id_token_id": None,
        "source_refresh_token_id": None,
        "act": None,
        "claims": {},
        **auth_context_fields({}),
    },
)


# Decorated once, not per request as a method decorator is; the secret stays out of error reports.
@sensitive_post_parameters("password", "client_secret")
def client_credentials_response(request: HttpRequest, client: Client) -> HttpResponse:
    """Answer a client_credentials token request of ``client``, which authenticated for it."""
    try:
        body, status, headers = json.dumps(_token_issue(request, client)), 200, HEADERS
    except errors.OAuth2Error as error:
        body, status, headers = error.json, error.status_code, {**HEADERS, **error.headers}
    # The headers given whole (HttpResponse would otherwise make its text/html Content-Type
    # first), the body as bytes: JSON's ASCII, which HttpResponse would encode after looking the
    # charset up in the Content-Type and the settings.
    return HttpResponse(content=body.encode(), status=status, headers=headers)


def _token_issue(request: HttpRequest, client: Client) -> dict[str, Any]:
    """Check the request (RFC 6749 §4.4.2), save its access token and return the §5.1 response."""
    # oauthlib's errors repeat the request's state, as oauthlib's grant answered.
    state = request.POST.get("state")
    # RFC 6749 §5.2 unauthorized_client: each grant type must be registered for the client.
    if GrantType.CLIENT_CREDENTIALS not in (client.grant_types or []):
        raise errors.UnauthorizedClientError(state=state)
    # RFC 6749 §3.3: without scope, the default (none for this grant); words split as oauthlib does.
    scopes = scope_to_list(request.POST.get("scope")) or default_scopes(client, GrantType.CLIENT_CREDENTIALS)
    # No scope asked (the usual machine request) is a subset of any and names no user scope.
    if scopes and (not set(scopes).issubset(available_scopes(client, scopes)) or user_scopes_asked(scopes)):
        raise errors.InvalidScopeError(state=state)
    # One token, one API (apis.py): the resource asked for (RFC 8707 §2), or the API of the scopes.
    try:
        target = apis.api_target(client=client, scopes=scopes, resources=request.POST.getlist("resource"))
    except apis.ApiTargetError as error:
        description = error.description
        raise errors.CustomOAuth2Error(error=error.error, description=description, state=state) from None
    for resource in target.resources:
        # RFC 8707 §2: an absolute URI with a scheme and host (DOT's check and description).
        if not is_valid_resource_uri(resource):
            raise invalid_resource_indicator(resource, state=state)
    api = target.api if target.api is not None else apis.token_api(target.resources)
    value, lifetime = client_credentials_access_token(
        client=client, api=api, scopes=scopes, resources=target.resources
    )
    scope = " ".join(scopes)
    now = timezone.now()
    TOKEN_INSERT.insert(
        {
            # What DOT's set_token_value and TokenChecksumField store: with its RFC 9700 storage
            # setting the token itself is left out, and it is found by its SHA-256 checksum.
            "token": "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else value,
            "token_checksum": token_checksum(value),
            # By key: the client is not read again.
            "application_id": client.pk,
            "expires": now + timedelta(seconds=lifetime),
            "scope": scope,
            "resource": target.resources,
            "created": now,
            "updated": now,
            # A family of its own.
            "token_family": uuid.uuid4(),
        }
    )
    return {"access_token": value, "expires_in": lifetime, "token_type": "Bearer", "scope": scope}
