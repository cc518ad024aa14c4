"""The device authorization grant (RFC 8628), as a device, a person and an RP see it."""

import json
import re
import time
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.utils import timezone

from oidc_provider.housekeeping import housekeeping_prune
from oidc_provider.models import AccessToken, DeviceGrant, GrantType
from tests.conftest import ISSUER, PASSWORD, basic_auth, sign_in, validate_id_token

DEVICE_GRANT = GrantType.DEVICE_CODE.value
USER_CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


@pytest.fixture
def tv(make_client, signing_keys):
    """A public device app (a TV) registered for the device grant and refreshing."""
    return make_client(
        name="Living-room TV",
        redirect_uris=[],
        post_logout_redirect_uris=[],
        public=True,
        grant_types=[DEVICE_GRANT, GrantType.REFRESH_TOKEN],
    )


@pytest.fixture
def cli(make_client, signing_keys):
    """A confidential device app (a command-line tool with a secret)."""
    return make_client(
        name="Deploy CLI", redirect_uris=[], post_logout_redirect_uris=[], grant_types=[DEVICE_GRANT]
    )


def start(http, registered, *, scope: str | None = "openid profile offline_access", **extra):
    data = {"client_id": registered.client_id, **extra}
    if scope is not None:
        data["scope"] = scope
    if registered.client_secret:
        data["client_secret"] = registered.client_secret
    return http.post("/o/device/", data)


def poll(http, registered, device_code: str | None, **extra):
    data = {"grant_type": DEVICE_GRANT, "client_id": registered.client_id, **extra}
    if device_code is not None:
        data["device_code"] = device_code
    if registered.client_secret:
        data["client_secret"] = registered.client_secret
    return http.post("/o/token/", data)


def enter_code(browser, user_code: str):
    """Type ``user_code`` on /device/; return the response (a redirect to the question when right)."""
    return browser.post("/device/", {"user_code": user_code})


def answer(browser, user_code: str, *, allow: bool = True):
    """Enter the code, look at the question page, and allow or deny; return the final page."""
    entered = enter_code(browser, user_code)
    assert entered.status_code == 302, entered.content[:500]
    question = browser.get(entered["Location"])
    assert question.status_code == 200, question.content[:500]
    data = {"request": question.context["request_token"], "allow" if allow else "deny": "1"}
    return browser.post("/device/confirm/", data)


def error_of(response) -> str:
    return response.json()["error"]


# --- discovery -------------------------------------------------------------------------------


def test_device_discovery_advertises_endpoint_and_grant(client, db):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["device_authorization_endpoint"] == f"{ISSUER}/o/device/"
    assert DEVICE_GRANT in document["grant_types_supported"]


# --- device authorization request (RFC 8628 §3.1, §3.2) ----------------------------------------


def test_device_authorization_returns_codes_for_people_and_device(client, tv):
    response = start(client, tv)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert USER_CODE.fullmatch(body["user_code"])
    assert len(body["device_code"]) >= 40
    assert body["verification_uri"] == f"{ISSUER}/device/"
    assert body["verification_uri_complete"] == f"{ISSUER}/device/?user_code={body['user_code']}"
    assert body["expires_in"] == 600
    assert body["interval"] == 5


def test_device_codes_are_stored_hashed_and_user_code_normalised(client, tv):
    body = start(client, tv).json()
    grant = DeviceGrant.objects.get()
    assert grant.device_code != body["device_code"] and len(grant.device_code) == 64
    assert grant.user_code == body["user_code"].replace("-", "")


def test_device_authorization_confidential_client_with_basic_needs_no_client_id(client, cli):
    response = client.post(
        "/o/device/", {"scope": "openid"}, HTTP_AUTHORIZATION=basic_auth(cli.client_id, cli.client_secret)
    )
    assert response.status_code == 200, response.content
    assert USER_CODE.fullmatch(response.json()["user_code"])


@pytest.mark.parametrize("secret", [None, "wrong-secret-wrong-secret-wrong-secret"])
def test_device_authorization_confidential_client_must_authenticate(client, cli, secret):
    data = {"client_id": cli.client_id, "scope": "openid"}
    if secret:
        data["client_secret"] = secret
    response = client.post("/o/device/", data)
    assert response.status_code == 401
    assert error_of(response) == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not DeviceGrant.objects.exists()


def test_device_authorization_basic_and_other_client_id_is_invalid_request(client, cli, tv):
    response = client.post(
        "/o/device/",
        {"client_id": tv.client_id, "scope": "openid"},
        HTTP_AUTHORIZATION=basic_auth(cli.client_id, cli.client_secret),
    )
    assert response.status_code == 400 and error_of(response) == "invalid_request"
    assert not DeviceGrant.objects.exists()


def test_device_authorization_unknown_client_is_invalid_client(client, db):
    response = client.post("/o/device/", {"client_id": "no-such-client", "scope": "openid"})
    assert response.status_code == 401 and error_of(response) == "invalid_client"


def test_device_authorization_without_client_is_invalid_client(client, db):
    response = client.post("/o/device/", {"scope": "openid"})
    assert response.status_code == 401 and error_of(response) == "invalid_client"


def test_device_authorization_client_not_registered_for_grant_is_unauthorized(client, make_client):
    web = make_client(public=True)
    response = start(client, web, scope="openid")
    assert response.status_code == 400 and error_of(response) == "unauthorized_client"


def test_device_authorization_unknown_scope_is_invalid_scope(client, tv):
    response = start(client, tv, scope="openid admin")
    assert response.status_code == 400 and error_of(response) == "invalid_scope"


def test_device_authorization_without_scope_gets_openid_only(client, tv):
    # RFC 6749 §3.3: without scope, the minimum a user-facing grant needs.
    response = start(client, tv, scope=None)
    assert response.status_code == 200, response.content
    assert DeviceGrant.objects.get().scope == "openid"


def test_device_authorization_repeated_parameter_is_invalid_request(client, tv):
    response = client.post(
        "/o/device/", "client_id=a&client_id=b&scope=openid", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400 and error_of(response) == "invalid_request"


def test_device_authorization_only_answers_post(client, tv):
    assert client.get("/o/device/", {"client_id": tv.client_id}).status_code == 405


# --- the verification page (RFC 8628 §3.3) ----------------------------------------------------


def test_device_page_sends_anonymous_people_to_sign_in_and_back(client, tv):
    user_code = start(client, tv).json()["user_code"]
    browser = BrowserClient()
    response = browser.get("/device/", {"user_code": user_code})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == [f"/device/?user_code={user_code}"]


def test_device_page_prefills_code_from_verification_uri_complete(logged_in, client, tv):
    user_code = start(client, tv).json()["user_code"]
    page = logged_in.get("/device/", {"user_code": user_code})
    assert page.status_code == 200
    assert f'value="{user_code}"' in page.content.decode()
    # Pre-filled is not approved: nothing happens until the person answers the question.
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


def test_device_question_shows_app_scopes_code_and_phishing_warning(logged_in, client, tv):
    user_code = start(client, tv).json()["user_code"]
    question = logged_in.get(enter_code(logged_in, user_code)["Location"])
    text = question.content.decode()
    assert "Living-room TV" in text
    assert user_code in text
    assert "If someone sent you this code or link" in text
    scopes = [scope for scope, _ in question.context["scopes"]]
    assert scopes == ["openid", "profile", "offline_access"]


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{bare}", " {bare_lower} ", "{spaced}"])
def test_device_code_entry_ignores_case_dashes_and_spaces(logged_in, client, tv, typed):
    user_code = start(client, tv).json()["user_code"]
    bare = user_code.replace("-", "")
    value = typed.format(
        code=user_code,
        lower=user_code.lower(),
        bare=bare,
        bare_lower=bare.lower(),
        spaced=f"{bare[:4]} {bare[4:]}",
    )
    response = enter_code(logged_in, value)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/device/confirm/"


@pytest.mark.parametrize("typed", ["", "BCDF-GHJK", "AEIO-U123", "x" * 500])
def test_device_wrong_code_says_so(logged_in, client, tv, typed):
    start(client, tv)
    response = enter_code(logged_in, typed)
    assert response.status_code == 200
    assert "That code is not right, or it has expired" in response.content.decode()


def test_device_wrong_codes_are_throttled_like_logins(logged_in, client, tv, settings):
    user_code = start(client, tv).json()["user_code"]
    wrong = "BBBB-BBBB" if user_code != "BBBB-BBBB" else "CCCC-CCCC"
    limit = settings.PORCHLIGHT["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit - 1):
        assert "not right" in enter_code(logged_in, wrong).content.decode()
    locked = enter_code(logged_in, wrong)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    # Locked means locked: the right code is refused too, without being looked at.
    refused = enter_code(logged_in, user_code)
    assert refused.status_code == 429
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


def test_device_wrong_codes_do_not_lock_the_account_out_of_signing_in(logged_in, client, tv, settings):
    start(client, tv)
    for _ in range(settings.PORCHLIGHT["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        enter_code(logged_in, "BBBB-BBBB")
    fresh = BrowserClient()
    assert fresh.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_device_question_link_works_only_for_the_person_who_entered_the_code(
    logged_in, client, tv, django_user_model
):
    user_code = start(client, tv).json()["user_code"]
    question_url = enter_code(logged_in, user_code)["Location"]
    django_user_model.objects.create_user(username="mallory", password=PASSWORD)
    other = sign_in(BrowserClient(), "mallory", PASSWORD)
    response = other.get(question_url)
    assert response.status_code == 400
    assert "expired or was already answered" in response.content.decode()
    token = parse_qs(urlsplit(question_url).query)["request"][0]
    assert other.post("/device/confirm/", {"request": token, "allow": "1"}).status_code == 400
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


@pytest.mark.parametrize("token", ["", "garbage", "eyJncmFudCI6MX0:abc:def"])
def test_device_question_with_bad_request_token_is_refused(logged_in, client, tv, token):
    start(client, tv)
    assert logged_in.get("/device/confirm/", {"request": token}).status_code == 400
    assert logged_in.post("/device/confirm/", {"request": token, "allow": "1"}).status_code == 400
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


def test_device_answer_counts_once(logged_in, client, tv):
    user_code = start(client, tv).json()["user_code"]
    question = logged_in.get(enter_code(logged_in, user_code)["Location"])
    token = question.context["request_token"]
    assert logged_in.post("/device/confirm/", {"request": token, "allow": "1"}).status_code == 200
    # A second click, or a deny from another tab, changes nothing.
    again = logged_in.post("/device/confirm/", {"request": token, "deny": "1"})
    assert again.status_code == 400
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZED


def test_device_approved_app_appears_under_connected_apps(logged_in, client, tv):
    answer(logged_in, start(client, tv).json()["user_code"])
    assert "Living-room TV" in logged_in.get("/account/apps/").content.decode()


def test_device_client_requiring_mfa_asks_for_second_factor_first(
    logged_in, client, make_client, signing_keys
):
    strict = make_client(
        name="Vault CLI",
        redirect_uris=[],
        post_logout_redirect_uris=[],
        public=True,
        grant_types=[DEVICE_GRANT],
    )
    strict.model.require_mfa = True
    strict.model.save()
    user_code = start(client, strict, scope="openid").json()["user_code"]
    question_url = enter_code(logged_in, user_code)["Location"]
    response = logged_in.get(question_url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path.startswith("/accounts/mfa/")
    assert parse_qs(location.query)["next"] == [question_url]
    token = parse_qs(urlsplit(question_url).query)["request"][0]
    # Posting the answer without the second factor does not approve either.
    assert logged_in.post("/device/confirm/", {"request": token, "allow": "1"}).status_code == 302
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


# --- polling the token endpoint (RFC 8628 §3.4, §3.5) -----------------------------------------


def test_device_flow_issues_tokens_with_id_token_once(logged_in, client, tv):
    body = start(client, tv).json()
    assert error_of(poll(client, tv, body["device_code"])) == "authorization_pending"
    done = answer(logged_in, body["user_code"])
    assert "Device connected" in done.content.decode()

    response = poll(client, tv, body["device_code"])
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid profile offline_access"
    assert tokens["refresh_token"]
    jwks = client.get("/o/jwks/").json()
    claims = validate_id_token(
        tokens["id_token"], jwks=jwks, audience=tv.client_id, access_token=tokens["access_token"]
    )
    # The approving sign-in's context: when and how the person signed in.
    assert claims["amr"] == ["pwd"] and claims["acr"] == "pwd"
    assert abs(claims["auth_time"] - time.time()) < 60
    assert claims["sid"]
    assert claims["name"] == "Alice Liddell"
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == claims["sub"]

    # Single use: a second poll gets no second token set.
    issued = AccessToken.objects.count()
    again = poll(client, tv, body["device_code"])
    assert again.status_code == 400 and error_of(again) == "invalid_grant"
    assert AccessToken.objects.count() == issued


def test_device_flow_refresh_token_refreshes(logged_in, client, tv):
    body = start(client, tv).json()
    answer(logged_in, body["user_code"])
    tokens = poll(client, tv, body["device_code"]).json()
    refreshed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": tv.client_id},
    )
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["access_token"] != tokens["access_token"]


def test_device_flow_without_openid_issues_no_id_token(logged_in, client, tv):
    body = start(client, tv, scope="profile").json()
    answer(logged_in, body["user_code"])
    tokens = poll(client, tv, body["device_code"]).json()
    assert tokens["access_token"] and "id_token" not in tokens


def test_device_flow_confidential_client_polls_with_basic(logged_in, client, cli):
    body = start(client, cli, scope="openid").json()
    answer(logged_in, body["user_code"])
    response = client.post(
        "/o/token/",
        {"grant_type": DEVICE_GRANT, "device_code": body["device_code"]},
        HTTP_AUTHORIZATION=basic_auth(cli.client_id, cli.client_secret),
    )
    assert response.status_code == 200, response.content
    assert "id_token" in response.json()


def test_device_flow_token_carries_approved_scopes_not_polled_ones(logged_in, client, tv):
    body = start(client, tv, scope="openid").json()
    answer(logged_in, body["user_code"])
    tokens = poll(client, tv, body["device_code"], scope="openid profile email").json()
    assert tokens["scope"] == "openid"


def test_device_poll_denied_is_access_denied(logged_in, client, tv):
    body = start(client, tv).json()
    done = answer(logged_in, body["user_code"], allow=False)
    assert "Device not connected" in done.content.decode()
    for _ in range(2):
        response = poll(client, tv, body["device_code"])
        assert response.status_code == 400 and error_of(response) == "access_denied"
    assert not AccessToken.objects.exists()


def test_device_poll_after_expiry_is_expired_token(logged_in, client, tv):
    body = start(client, tv).json()
    answer(logged_in, body["user_code"])
    DeviceGrant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = poll(client, tv, body["device_code"])
    assert response.status_code == 400 and error_of(response) == "expired_token"
    assert not AccessToken.objects.exists()


def test_device_expired_code_cannot_be_entered(logged_in, client, tv):
    user_code = start(client, tv).json()["user_code"]
    DeviceGrant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert "not right, or it has expired" in enter_code(logged_in, user_code).content.decode()


def test_device_poll_unknown_code_is_invalid_grant(client, tv):
    start(client, tv)
    response = poll(client, tv, "not-a-device-code")
    assert response.status_code == 400 and error_of(response) == "invalid_grant"


def test_device_code_is_bound_to_its_client(logged_in, client, tv, make_client):
    other = make_client(
        name="Other TV",
        redirect_uris=[],
        post_logout_redirect_uris=[],
        public=True,
        grant_types=[DEVICE_GRANT],
    )
    body = start(client, tv).json()
    answer(logged_in, body["user_code"])
    stolen = poll(client, other, body["device_code"])
    assert stolen.status_code == 400 and error_of(stolen) == "invalid_grant"
    # The code is still good for the device it was issued to.
    assert poll(client, tv, body["device_code"]).status_code == 200


def test_device_poll_without_device_code_is_invalid_request(client, tv):
    response = poll(client, tv, None)
    assert response.status_code == 400 and error_of(response) == "invalid_request"


def test_device_poll_by_client_not_registered_for_grant_is_unauthorized(client, make_client, tv):
    web = make_client(public=True)
    body = start(client, tv).json()
    response = poll(client, web, body["device_code"])
    assert response.status_code == 400 and error_of(response) == "unauthorized_client"


def test_device_poll_by_confidential_client_without_secret_is_invalid_client(client, cli):
    body = start(client, cli, scope="openid").json()
    response = client.post(
        "/o/token/",
        {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": cli.client_id},
    )
    assert response.status_code == 401 and error_of(response) == "invalid_client"


def test_device_poll_too_fast_gets_slow_down_and_a_longer_interval(client, tv, settings, clock):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "DEVICE_POLL_INTERVAL": 1}
    body = start(client, tv).json()
    assert body["interval"] == 1
    code = body["device_code"]
    # A device that waits the interval between polls is never told to slow down.
    assert error_of(poll(client, tv, code)) == "authorization_pending"
    clock.advance(1.1)
    assert error_of(poll(client, tv, code)) == "authorization_pending"
    # One that does not is, and must then wait 5 s more (RFC 8628 §3.5) ...
    assert error_of(poll(client, tv, code)) == "slow_down"
    clock.advance(1.1)
    assert error_of(poll(client, tv, code)) == "slow_down"
    # ... for this and every later poll: 1 + 5 + 5 seconds now.
    clock.advance(11.1)
    assert error_of(poll(client, tv, code)) == "authorization_pending"


# --- registration and housekeeping ------------------------------------------------------------


def test_device_client_from_createclient_runs_the_flow(client, logged_in, signing_keys):
    out = StringIO()
    call_command("createclient", "Kitchen TV", "--public", "--grant-type", DEVICE_GRANT, "--json", stdout=out)
    client_id = json.loads(out.getvalue())["client_id"]
    body = client.post("/o/device/", {"client_id": client_id, "scope": "openid"}).json()
    answer(logged_in, body["user_code"])
    tokens = client.post(
        "/o/token/", {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": client_id}
    )
    assert tokens.status_code == 200, tokens.content
    assert "id_token" in tokens.json()


def test_device_client_from_dynamic_registration_runs_the_flow(client, logged_in, signing_keys, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OPEN_REGISTRATION": True}
    registered = client.post(
        "/o/register/",
        {"client_name": "Kiosk", "grant_types": [DEVICE_GRANT], "token_endpoint_auth_method": "none"},
        content_type="application/json",
    )
    assert registered.status_code == 201, registered.content
    client_id = registered.json()["client_id"]
    body = client.post("/o/device/", {"client_id": client_id, "scope": "openid"}).json()
    answer(logged_in, body["user_code"])
    tokens = client.post(
        "/o/token/", {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": client_id}
    )
    assert tokens.status_code == 200, tokens.content


def test_device_grants_long_expired_are_purged_by_housekeeping(logged_in, client, tv):
    old = start(client, tv).json()
    recent = start(client, tv).json()
    now = timezone.now()
    DeviceGrant.objects.filter(user_code=old["user_code"].replace("-", "")).update(
        expires=now - timedelta(hours=1)
    )
    DeviceGrant.objects.filter(user_code=recent["user_code"].replace("-", "")).update(
        expires=now - timedelta(seconds=5)
    )
    housekeeping_prune()
    assert DeviceGrant.objects.count() == 1
    # Recently expired is still answered as such, not as an unknown code.
    assert error_of(poll(client, tv, recent["device_code"])) == "expired_token"
    assert error_of(poll(client, tv, old["device_code"])) == "invalid_grant"


def test_device_admin_lists_grants_by_status_without_codes(staff, client, tv, logged_in):
    body = start(client, tv).json()
    answer(logged_in, body["user_code"])
    start(client, tv)
    stored = DeviceGrant.objects.get(status=DeviceGrant.AUTHORIZED)
    page = staff.get("/admin/oidc_provider/devicegrant/", {"status__exact": DeviceGrant.AUTHORIZED})
    assert page.status_code == 200
    text = page.content.decode()
    assert tv.client_id in text and "alice" in text
    assert page.context["cl"].result_count == 1
    detail = staff.get(f"/admin/oidc_provider/devicegrant/{stored.pk}/change/").content.decode()
    for secret in (body["device_code"], stored.device_code):
        assert secret not in text and secret not in detail
