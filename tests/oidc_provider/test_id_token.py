"""The ID token object (oidc_provider/id_token.py): its claims, in order, and its signature."""

import base64
import hashlib

from oidc_provider.id_token import IDToken
from oidc_provider.models import IDToken as IDTokenRecord
from tests.conftest import ISSUER, validate_id_token

CONTEXT = {"auth_time": 1_700_000_000, "amr": ["pwd", "otp", "mfa"], "acr": "mfa", "session_id": "sid-1"}


def left_half(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def test_id_token_claims_in_order_with_everything_that_came_with_it(rp, user):
    token = IDToken.issue(
        user=user,
        client=rp.model,
        audience=rp.client_id,
        scopes=["openid", "email"],
        auth_context=CONTEXT,
        nonce="n-1",
        access_token="at-1",
        code="c-1",
    )
    claims = token.to_dict()
    assert list(claims) == [
        "sub",
        "email",
        "email_verified",
        "iss",
        "aud",
        "azp",
        "iat",
        "exp",
        "auth_time",
        "amr",
        "acr",
        "sid",
        "nonce",
        "at_hash",
        "c_hash",
        "jti",
    ]
    assert claims["sub"] == user.subject and claims["email"] == "alice@example.com"
    assert claims["iss"] == ISSUER and claims["aud"] == claims["azp"] == rp.client_id
    assert claims["auth_time"] == CONTEXT["auth_time"] and claims["amr"] == CONTEXT["amr"]
    assert claims["acr"] == "mfa" and claims["sid"] == "sid-1" and claims["nonce"] == "n-1"
    assert claims["at_hash"] == left_half("at-1") and claims["c_hash"] == left_half("c-1")
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_id_token_is_recorded_with_its_session(rp, user):
    token = IDToken.issue(
        user=user, client=rp.model, audience=rp.client_id, scopes=["openid"], auth_context=CONTEXT
    )
    record = IDTokenRecord.objects.get(pk=token.record.pk)
    assert str(record.jti) == token.to_dict()["jti"]
    assert record.session_id == "sid-1" and record.scope == "openid" and record.user == user


def test_id_token_leaves_out_what_did_not_come_with_it(rp, user):
    token = IDToken.issue(
        user=user, client=rp.model, audience=rp.client_id, scopes=["openid"], auth_context={}
    )
    claims = token.to_dict()
    assert set(claims) == {"sub", "iss", "aud", "azp", "iat", "exp", "jti"}


def test_id_token_jwt_verifies_against_the_published_keys(rp, user, client):
    token = IDToken.issue(
        user=user,
        client=rp.model,
        audience=rp.client_id,
        scopes=["openid"],
        auth_context=CONTEXT,
        access_token="at-1",
    )
    claims = validate_id_token(
        token.to_jwt(), jwks=client.get("/o/jwks/").json(), audience=rp.client_id, access_token="at-1"
    )
    assert claims == token.to_dict()
