"""The UserInfo endpoint (OIDC Core 1.0 §5.3; RFC 6750 §2, §3) and its CORS."""

import pytest

from accounts.models import User
from oidc_provider.models import AccessToken
from oidc_provider.views import userinfo as userinfo_view
from tests.conftest import authorize, exchange, validate_id_token

USERINFO = "/o/userinfo/"
APP_ORIGIN = "https://app.example.com"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def tokens_for(browser, rp, http, scope: str) -> dict:
    response = exchange(http, rp, authorize(browser, rp, scope=scope))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def user_with_profile(user):
    user.middle_name = "Pleasance"
    user.nickname = "Al"
    user.address_street_address = "1 Christ Church"
    user.phone_number_verified = True
    user.save()
    return user


def test_userinfo_get_and_post(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    got = client.get(USERINFO, **bearer(token))
    posted = client.post(USERINFO, **bearer(token))
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    assert got["Content-Type"] == "application/json"


def test_userinfo_sub_matches_id_token(logged_in, rp, client, user):
    body = tokens_for(logged_in, rp, client, "openid")
    claims = validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)
    info = client.get(USERINFO, **bearer(body["access_token"])).json()
    # OIDC Core 1.0 §5.3.2: the sub in UserInfo must equal the ID token's.
    assert info["sub"] == claims["sub"] == user.subject


def test_userinfo_openid_scope_releases_only_sub(logged_in, rp, client, user_with_profile):
    info = client.get(USERINFO, **bearer(tokens_for(logged_in, rp, client, "openid")["access_token"])).json()
    assert info == {"sub": user_with_profile.subject}


def test_userinfo_profile_scope_releases_profile_claims(logged_in, rp, client, user_with_profile):
    token = tokens_for(logged_in, rp, client, "openid profile")["access_token"]
    info = client.get(USERINFO, **bearer(token)).json()
    assert info["name"] == "Alice Pleasance Liddell"
    assert info["given_name"] == "Alice"
    assert info["family_name"] == "Liddell"
    assert info["middle_name"] == "Pleasance"
    assert info["nickname"] == "Al"
    assert info["preferred_username"] == "alice"
    assert isinstance(info["updated_at"], int)
    assert not {"email", "email_verified", "phone_number", "address"} & set(info)


def test_userinfo_email_scope_releases_email_claims(logged_in, rp, client, user_with_profile):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    info = client.get(USERINFO, **bearer(token)).json()
    assert info == {"sub": user_with_profile.subject, "email": "alice@example.com", "email_verified": True}


def test_userinfo_phone_scope_releases_phone_claims(logged_in, rp, client, user_with_profile):
    token = tokens_for(logged_in, rp, client, "openid phone")["access_token"]
    info = client.get(USERINFO, **bearer(token)).json()
    assert info == {
        "sub": user_with_profile.subject,
        "phone_number": "+441632960000",
        "phone_number_verified": True,
    }


def test_userinfo_address_scope_releases_address(logged_in, rp, client, user_with_profile):
    token = tokens_for(logged_in, rp, client, "openid address")["access_token"]
    info = client.get(USERINFO, **bearer(token)).json()
    assert info == {
        "sub": user_with_profile.subject,
        "address": {"street_address": "1 Christ Church", "locality": "Oxford", "country": "GB"},
    }


def test_userinfo_accepts_token_in_form_body(logged_in, rp, client, user):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    # RFC 6750 §2.2: a form-encoded POST body may carry the token instead of the header.
    response = client.post(USERINFO, {"access_token": token})
    assert response.status_code == 200
    assert response.json()["sub"] == user.subject


def test_userinfo_header_token_wins_over_form_body(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    response = client.post(USERINFO, {"access_token": token}, **bearer("not-a-token"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_userinfo_refuses_a_deactivated_users_token(logged_in, rp, client, user):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    user.is_active = False
    user.save()
    response = client.get(USERINFO, **bearer(token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "email" not in response.json()


def test_userinfo_invalid_token_is_401_invalid_token(client, db):
    response = client.get(USERINFO, **bearer("not-a-token"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


def test_userinfo_without_token_gets_bare_bearer_challenge(client, db):
    response = client.get(USERINFO)
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    # RFC 6750 §3.1: a request with no authentication information gets no error code.
    assert "error=" not in challenge


def test_userinfo_other_auth_scheme_is_401(client, db):
    response = client.get(USERINFO, HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_token_in_query_string(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    response = client.get(USERINFO, {"access_token": token})
    # RFC 9700 §2.4 / RFC 6750 §2.3: tokens in URLs leak into logs and Referer headers.
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "email" not in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_token_in_query_string_even_with_header(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    response = client.get(f"{USERINFO}?access_token={token}", **bearer(token))
    # RFC 6750 §2: a client must not use more than one method to send the token.
    assert response.status_code == 400
    assert "email" not in response.json()


def test_userinfo_expired_token_is_401(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "openid email")["access_token"]
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    response = client.get(USERINFO, **bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_userinfo_token_without_openid_scope_is_403(logged_in, rp, client):
    token = tokens_for(logged_in, rp, client, "profile")["access_token"]
    response = client.get(USERINFO, **bearer(token))
    # RFC 6750 §3.1: a valid token lacking the scope is insufficient_scope (403).
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_userinfo_client_credentials_token_is_refused(make_client, signing_keys, client):
    machine = make_client(name="Job", redirect_uris=[], grant_types=["client_credentials"])
    token = client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": machine.client_id,
            "client_secret": machine.client_secret,
        },
    ).json()["access_token"]
    response = client.get(USERINFO, **bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


# --- CORS (docs/design.md, gap 11) --------------------------------------------------------------------------


@pytest.fixture
def spa(make_client, signing_keys):
    return make_client(name="Browser app", public=True, allowed_origins=[APP_ORIGIN])


def test_userinfo_cors_allows_the_token_clients_origin(spa, logged_in, client):
    token = tokens_for(logged_in, spa, client, "openid")["access_token"]
    response = client.get(USERINFO, HTTP_ORIGIN=APP_ORIGIN, **bearer(token))
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in response["Vary"]


def test_userinfo_cors_refuses_other_origins(spa, logged_in, client):
    token = tokens_for(logged_in, spa, client, "openid")["access_token"]
    response = client.get(USERINFO, HTTP_ORIGIN="https://evil.example.com", **bearer(token))
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_userinfo_cors_is_per_client(spa, rp, logged_in, client):
    # rp registered no origins: its token does not open UserInfo to spa's origin.
    token = tokens_for(logged_in, rp, client, "openid")["access_token"]
    response = client.get(USERINFO, HTTP_ORIGIN=APP_ORIGIN, **bearer(token))
    assert "Access-Control-Allow-Origin" not in response


def test_userinfo_cors_preflight(spa, client):
    response = client.options(
        USERINFO,
        HTTP_ORIGIN=APP_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert response.status_code in {200, 204}
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert "authorization" in response["Access-Control-Allow-Headers"].lower()


def test_userinfo_cors_preflight_from_unknown_origin(spa, client):
    response = client.options(
        USERINFO, HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in response


def test_userinfo_cors_preflight_does_not_match_origin_prefix(spa, client):
    response = client.options(
        USERINFO, HTTP_ORIGIN="https://app.example.co", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in response


def test_userinfo_error_readable_by_registered_origin(make_client, client, signing_keys):
    make_client(allowed_origins=["https://spa.example.com"])
    response = client.get(
        "/o/userinfo/", HTTP_AUTHORIZATION="Bearer nope", HTTP_ORIGIN="https://spa.example.com"
    )
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "https://spa.example.com"
    other = client.get(
        "/o/userinfo/", HTTP_AUTHORIZATION="Bearer nope", HTTP_ORIGIN="https://evil.example.com"
    )
    assert "Access-Control-Allow-Origin" not in other


def test_userinfo_for_an_account_deleted_after_its_token_was_read(rp, logged_in, client, user, monkeypatch):
    # Staff delete the account between the token's SELECT and the address's: no address, no error.
    user.address_locality = "Utrecht"
    user.save()
    access = exchange(client, rp, authorize(logged_in, rp, scope="openid address")).json()["access_token"]
    found = userinfo_view.access_token_presented

    def then_deleted(*, value):
        token = found(value=value)
        User.objects.filter(pk=token.user.pk).delete()
        return token

    monkeypatch.setattr(userinfo_view, "access_token_presented", then_deleted)
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200
    assert "address" not in response.json()
