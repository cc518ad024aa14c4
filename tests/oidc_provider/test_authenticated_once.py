"""The token endpoint checks a client's secret once per request, and only for the same credentials.

The view authenticates the client to count the request against its budget (rate_limits.py) and
hands the result to the validator, which then skips checking the secret again — but only for a
request carrying exactly the credentials that were checked (RFC 6749 §2.3.1).
"""

import base64

from oauthlib.common import Request

from oidc_provider.oauth2_validators import PorchlightValidator
from oidc_provider.rate_limits import client_loaded, credentials_of


def token_request(client_id: str, secret: str) -> Request:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Request(
        "/o/token/",
        "POST",
        "grant_type=client_credentials",
        {"Authorization": f"Basic {basic}", "HTTP_AUTHORIZATION": f"Basic {basic}"},
    )


def test_same_credentials_are_not_checked_twice(make_client):
    registered = make_client(name="Backend", grant_types=["client_credentials"])
    checked = token_request(registered.client_id, registered.client_secret or "")
    with client_loaded(registered.model, credentials=credentials_of(checked)):
        again = token_request(registered.client_id, registered.client_secret or "")
        assert PorchlightValidator().authenticate_client(again)
        assert again.client.pk == registered.model.pk


def test_other_credentials_in_the_same_request_are_checked(make_client):
    registered = make_client(name="Backend", grant_types=["client_credentials"])
    checked = token_request(registered.client_id, registered.client_secret or "")
    with client_loaded(registered.model, credentials=credentials_of(checked)):
        # Another secret for the same client, or another client's id: checked, and refused.
        validator = PorchlightValidator()
        assert not validator.authenticate_client(token_request(registered.client_id, "wrong"))
        assert not validator.authenticate_client(token_request("someone-else", "wrong"))
