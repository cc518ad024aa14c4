"""The implicit and hybrid flows (OIDC Core 1.0 §3.2, §3.3), off unless a client opts in.

Fragment encoding by default and never the query (OAuth 2.0 Multiple Response Types §5),
form_post on request, nonce required with an ID token from the authorization endpoint, at_hash
and c_hash (§3.3.2.11), short-lived front-channel tokens and never a refresh token (RFC 6749
§4.2.2), discovery listing what some client turned on.
"""

import json
import secrets
import time
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import CommandError, call_command

from accounts.authentication import SESSION_KEY
from oidc_provider.apis import api_save, client_scopes_change
from oidc_provider.models import AccessToken, Api, Client, RefreshToken
from oidc_provider.response_types import FRONT_CHANNEL_TOKEN_LIFETIME
from oidc_provider.services import claim_define
from tests.admin_forms import add_client_in_admin, change_client_in_admin
from tests.conftest import (
    ISSUER,
    AuthorizationResult,
    RegisteredClient,
    exchange,
    pkce_pair,
    validate_id_token,
)
from tests.oauth import register
from tests.tokens import claims_of, half_hash, header_of

AUTHORIZE = "/o/authorize/"
CONSENT = "/o/authorize/consent/"
DISCOVERY = "/.well-known/openid-configuration"
FRONT_CHANNEL_TYPES = ["id_token", "id_token token", "code id_token", "code token", "code id_token token"]


@pytest.fixture
def hybrid_rp(make_client, signing_keys):
    """A confidential client that turned on every response type."""
    return make_client(response_types=["code", *FRONT_CHANNEL_TYPES])


@pytest.fixture
def jwks(client, signing_keys) -> dict:
    return client.get("/o/jwks/").json()


def request_for(rp, response_type: str, **overrides) -> tuple[dict, str]:
    """Return an authorization request of ``response_type`` and its PKCE verifier (None drops a parameter)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": response_type,
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile email",
        "state": "st-" + secrets.token_urlsafe(6),
        "nonce": "n-" + secrets.token_urlsafe(6),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {key: value for key, value in params.items() if value is not None}, verifier


class _FormPostParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and named.get("id") == "response":
            self.action = named.get("action") or ""
        elif tag == "input" and named.get("name"):
            self.fields[named["name"] or ""] = named.get("value") or ""


def posted_fields(page) -> tuple[str, dict[str, str]]:
    """Return the form_post page's target and the fields it posts, as a browser reads them."""
    parser = _FormPostParser()
    parser.feed(page.content.decode())
    assert parser.action, page.content[:500]
    return parser.action, parser.fields


def answered(browser, params: dict):
    """Send the request and, if the consent page is shown, allow it; return the final response."""
    response = browser.get(AUTHORIZE, params)
    if response.status_code == 200 and "request_id" in (response.context or {}):
        response = browser.post(CONSENT, {"request_id": response.context["request_id"], "allow": "1"})
    return response


def fragment_of(response, rp) -> dict[str, str]:
    """Assert a redirect to ``rp`` with everything in the fragment; return the fragment's parameters."""
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == rp.redirect_uri
    assert location.query == "", "nothing in the query"
    return dict(parse_qsl(location.fragment))


# --- each response type -----------------------------------------------------------------------


@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_front_channel_response_types_answer_in_the_fragment(hybrid_rp, logged_in, jwks, response_type):
    params, _verifier = request_for(hybrid_rp, response_type)
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    words = response_type.split()
    assert sent["state"] == params["state"] and sent["iss"] == ISSUER
    assert ("code" in sent) == ("code" in words)
    assert ("access_token" in sent) == ("token" in words)
    assert ("id_token" in sent) == ("id_token" in words)
    # RFC 6749 §4.2.2: the authorization endpoint never issues a refresh token.
    assert "refresh_token" not in sent
    assert not RefreshToken.objects.exists()
    if "id_token" in words:
        claims = validate_id_token(
            sent["id_token"],
            jwks=jwks,
            audience=hybrid_rp.client_id,
            nonce=params["nonce"],
            access_token=sent.get("access_token"),
        )
        algorithm = header_of(sent["id_token"])["alg"]
        # OIDC Core 1.0 §3.3.2.11: at_hash with an access token, c_hash with a code.
        if "access_token" in sent:
            assert claims["at_hash"] == half_hash(sent["access_token"], algorithm)
        else:
            assert "at_hash" not in claims
        if "code" in sent:
            assert claims["c_hash"] == half_hash(sent["code"], algorithm)
        else:
            assert "c_hash" not in claims
        assert claims["auth_time"] <= time.time()


def test_front_channel_words_in_any_order_are_the_same_type(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "token id_token code")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    assert {"code", "access_token", "id_token"} <= set(sent)


@pytest.fixture
def userinfo_only_claim(user):
    """A claim staff release into UserInfo only (not into ID tokens), and the user's value of it."""
    claim_define(name="team", label="Team", type="string", scope="work", scope_description="Your team")
    user.attributes = {"team": "Looking glass"}
    user.save()
    return "team"


def test_front_channel_id_token_alone_carries_the_user_claims(
    hybrid_rp, logged_in, jwks, userinfo_only_claim
):
    # OIDC Core 1.0 §5.4: no access token, so no UserInfo; the claims it would give are in the ID token.
    params, _verifier = request_for(hybrid_rp, "id_token", scope="openid profile email work")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    claims = validate_id_token(
        sent["id_token"], jwks=jwks, audience=hybrid_rp.client_id, nonce=params["nonce"]
    )
    assert claims["email"] == "alice@example.com"
    assert claims["given_name"] == "Alice"
    assert claims[userinfo_only_claim] == "Looking glass"


def test_front_channel_id_token_with_access_token_leaves_userinfo_claims_to_userinfo(
    hybrid_rp, logged_in, client, userinfo_only_claim
):
    params, _verifier = request_for(hybrid_rp, "id_token token", scope="openid work")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    assert userinfo_only_claim not in claims_of(sent["id_token"])
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {sent['access_token']}")
    assert userinfo.json()[userinfo_only_claim] == "Looking glass"


def test_front_channel_access_token_reads_userinfo(hybrid_rp, logged_in, client):
    params, _verifier = request_for(hybrid_rp, "id_token token")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {sent['access_token']}")
    assert userinfo.status_code == 200
    assert userinfo.json()["email"] == "alice@example.com"


def test_front_channel_tokens_are_short_lived(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "code id_token token")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    assert 0 < int(sent["expires_in"]) <= FRONT_CHANNEL_TOKEN_LIFETIME <= 300
    access = claims_of(sent["access_token"])
    assert access["exp"] - access["iat"] <= FRONT_CHANNEL_TOKEN_LIFETIME
    id_token = claims_of(sent["id_token"])
    assert id_token["exp"] - id_token["iat"] <= FRONT_CHANNEL_TOKEN_LIFETIME
    stored = AccessToken.objects.get()
    assert stored.expires.timestamp() - time.time() <= FRONT_CHANNEL_TOKEN_LIFETIME + 5


def test_hybrid_code_redeems_at_the_token_endpoint(hybrid_rp, logged_in, client, jwks):
    params, verifier = request_for(hybrid_rp, "code id_token")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    result = AuthorizationResult(sent["code"], verifier, params["nonce"], params["state"], None)
    response = exchange(client, hybrid_rp, result)
    assert response.status_code == 200, response.content
    body = response.json()
    claims = validate_id_token(
        body["id_token"],
        jwks=jwks,
        audience=hybrid_rp.client_id,
        nonce=params["nonce"],
        access_token=body["access_token"],
    )
    # OIDC Core 1.0 §3.3.3.6: the same subject as the front channel's ID token.
    assert claims["sub"] == claims_of(sent["id_token"])["sub"]
    # The back channel issues as in the code flow: a session-bound refresh token for this client.
    assert "refresh_token" in body
    # Used once.
    assert exchange(client, hybrid_rp, result).status_code == 400


def test_hybrid_code_still_needs_pkce_for_a_public_client(make_client, signing_keys, logged_in):
    public = make_client(public=True, response_types=["code", "code id_token"])
    params, _verifier = request_for(public, "code id_token", code_challenge=None, code_challenge_method=None)
    sent = fragment_of(answered(logged_in, params), public)
    assert sent["error"] == "invalid_request" and "code" not in sent and "id_token" not in sent


def test_hybrid_code_refuses_a_wrong_verifier(hybrid_rp, logged_in, client):
    params, _verifier = request_for(hybrid_rp, "code token")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    result = AuthorizationResult(sent["code"], pkce_pair()[0], params["nonce"], params["state"], None)
    response = exchange(client, hybrid_rp, result)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_front_channel_max_age_exceeded_sends_to_sign_in_first(hybrid_rp, logged_in):
    # The code flow's prompt path: a sign-in older than max_age is asked again (OIDC Core 1.0 §3.1.2.1).
    session = logged_in.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "auth_time": int(time.time()) - 600}
    session.save()
    params, _verifier = request_for(hybrid_rp, "id_token token", max_age="60")
    response = logged_in.get(AUTHORIZE, params)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert not AccessToken.objects.exists()


def test_front_channel_client_requiring_mfa_asks_for_a_second_factor(make_client, signing_keys, logged_in):
    strict = make_client(require_mfa=True, response_types=["code", "id_token token"])
    params, _verifier = request_for(strict, "id_token token")
    response = logged_in.get(AUTHORIZE, params)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path.startswith("/accounts/mfa/")
    assert not AccessToken.objects.exists()
    # And prompt=none cannot skip it (OIDC Core 1.0 §3.1.2.6).
    params, _verifier = request_for(strict, "id_token token", prompt="none")
    sent = fragment_of(logged_in.get(AUTHORIZE, params), strict)
    assert sent["error"] == "interaction_required" and "access_token" not in sent


def test_front_channel_claims_parameter_reaches_the_id_token(hybrid_rp, logged_in, jwks):
    # OIDC Core 1.0 §5.5: a claim asked for by name in the ID token, beyond the scopes.
    claims_request = json.dumps({"id_token": {"email": {"essential": True}}})
    params, _verifier = request_for(hybrid_rp, "code id_token", scope="openid", claims=claims_request)
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    claims = validate_id_token(
        sent["id_token"], jwks=jwks, audience=hybrid_rp.client_id, nonce=params["nonce"]
    )
    assert claims["email"] == "alice@example.com"


# --- response modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("response_type", ["id_token token", "code id_token"])
def test_front_channel_form_post_posts_the_tokens(hybrid_rp, logged_in, jwks, response_type):
    params, _verifier = request_for(hybrid_rp, response_type, response_mode="form_post")
    page = answered(logged_in, params)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    action, fields = posted_fields(page)
    assert action == hybrid_rp.redirect_uri
    assert fields["state"] == params["state"] and fields["iss"] == ISSUER
    validate_id_token(
        fields["id_token"],
        jwks=jwks,
        audience=hybrid_rp.client_id,
        nonce=params["nonce"],
        access_token=fields.get("access_token"),
    )


def test_front_channel_fragment_redirect_is_not_cached_nor_referred(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "id_token token", response_mode="fragment")
    response = answered(logged_in, params)
    fragment_of(response, hybrid_rp)
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_front_channel_refuses_query_mode(hybrid_rp, logged_in, response_type):
    # Multiple Response Types §5: a response with tokens MUST NOT be query-encoded; the error
    # itself goes in the fragment.
    params, _verifier = request_for(hybrid_rp, response_type, response_mode="query")
    sent = fragment_of(logged_in.get(AUTHORIZE, params), hybrid_rp)
    assert sent["error"] == "invalid_request" and sent["state"] == params["state"]
    assert not AccessToken.objects.exists()


def test_code_flow_still_refuses_fragment_mode(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "code", response_mode="fragment")
    response = logged_in.get(AUTHORIZE, params)
    assert response.status_code == 302
    assert "error=invalid_request" in urlsplit(response["Location"]).query


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_front_channel_type_not_registered_is_unauthorized_client(rp, logged_in, response_type):
    # RFC 6749 §4.1.2.1: the client is not allowed this response type; in the fragment (§5).
    params, _verifier = request_for(rp, response_type)
    sent = fragment_of(logged_in.get(AUTHORIZE, params), rp)
    assert sent["error"] == "unauthorized_client" and sent["state"] == params["state"]
    assert sent["iss"] == ISSUER
    assert not AccessToken.objects.exists()


def test_front_channel_only_the_types_registered(make_client, signing_keys, logged_in):
    only_code_id_token = make_client(response_types=["code", "code id_token"])
    params, _verifier = request_for(only_code_id_token, "code id_token token")
    sent = fragment_of(logged_in.get(AUTHORIZE, params), only_code_id_token)
    assert sent["error"] == "unauthorized_client"


@pytest.mark.parametrize("response_type", ["token", "code code", "id_token bogus", "none"])
def test_front_channel_unknown_type_is_unsupported(hybrid_rp, logged_in, response_type):
    params, _verifier = request_for(hybrid_rp, response_type)
    response = logged_in.get(AUTHORIZE, params)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    sent = dict(parse_qsl(location.fragment or location.query))
    assert sent["error"] == "unsupported_response_type"
    assert "access_token" not in sent and "code" not in sent


@pytest.mark.parametrize(
    "response_type", ["id_token", "id_token token", "code id_token", "code id_token token"]
)
def test_front_channel_id_token_needs_a_nonce(hybrid_rp, logged_in, response_type):
    # OIDC Core 1.0 §3.2.2.1, §3.3.2.11: nonce is REQUIRED when an ID token comes back here.
    params, _verifier = request_for(hybrid_rp, response_type, nonce=None)
    sent = fragment_of(logged_in.get(AUTHORIZE, params), hybrid_rp)
    assert sent["error"] == "invalid_request" and "nonce" in sent["error_description"]
    assert "id_token" not in sent


def test_front_channel_code_token_needs_no_nonce(hybrid_rp, logged_in):
    # §3.3.2.11: for "code token" the nonce is optional (no ID token from this endpoint).
    params, _verifier = request_for(hybrid_rp, "code token", nonce=None)
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    assert "code" in sent and "access_token" in sent and "error" not in sent


def test_front_channel_id_token_needs_the_openid_scope(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "id_token token", scope="profile")
    sent = fragment_of(logged_in.get(AUTHORIZE, params), hybrid_rp)
    assert sent["error"] in {"invalid_request", "invalid_scope"}
    assert "access_token" not in sent


def test_front_channel_prompt_none_without_session_is_login_required(hybrid_rp, browser):
    # The same prompt path as the code flow (OIDC Core 1.0 §3.1.2.6), answered in the fragment.
    params, _verifier = request_for(hybrid_rp, "id_token", prompt="none")
    sent = fragment_of(browser.get(AUTHORIZE, params), hybrid_rp)
    assert sent["error"] == "login_required"


def test_front_channel_consent_denied_is_access_denied_in_the_fragment(hybrid_rp, logged_in):
    params, _verifier = request_for(hybrid_rp, "code id_token")
    page = logged_in.get(AUTHORIZE, params)
    assert page.status_code == 200
    response = logged_in.post(CONSENT, {"request_id": page.context["request_id"]})
    sent = fragment_of(response, hybrid_rp)
    assert sent["error"] == "access_denied" and "code" not in sent


# --- discovery --------------------------------------------------------------------------------


def test_discovery_lists_only_code_until_a_client_enables_more(client, signing_keys, make_client):
    document = client.get(DISCOVERY).json()
    assert document["response_types_supported"] == ["code"]
    assert "fragment" not in document["response_modes_supported"]
    assert "implicit" not in document["grant_types_supported"]

    registered = make_client(response_types=["code", "code id_token"])
    document = client.get(DISCOVERY).json()
    assert document["response_types_supported"] == ["code", "code id_token"]
    assert "fragment" in document["response_modes_supported"]
    assert "implicit" in document["grant_types_supported"]

    registered.model.delete()
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code"]


def test_discovery_follows_a_client_turning_types_off(client, signing_keys, make_client):
    from oidc_provider.services import client_update

    registered = make_client(response_types=["code", "id_token", "id_token token"])
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code", "id_token", "id_token token"]
    client_update(client=registered.model, response_types=["code"])
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code"]


def test_discovery_drops_an_answer_cached_before_the_change_committed(
    client, signing_keys, make_client, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from oidc_provider import response_types
    from oidc_provider.services import client_update

    registered = make_client(response_types=["code"])
    with django_capture_on_commit_callbacks(execute=True):
        client_update(client=registered.model, response_types=["code", "id_token"])
        # Another worker, reading before the change committed, cached what it still saw.
        cache.set(response_types.CACHE_KEY, (), response_types.CACHE_SECONDS)
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code", "id_token"]


# --- dynamic registration (OIDC Registration 1.0 §2, RFC 7591 §2.1) ---------------------------


def registered_client(body: dict) -> RegisteredClient:
    model = Client.objects.get(client_id=body["client_id"])
    return RegisteredClient(body["client_id"], body.get("client_secret"), body["redirect_uris"][0], model)


def test_registration_hybrid_client_runs_the_hybrid_flow(client, signing_keys, initial_token, logged_in):
    metadata = {
        "redirect_uris": ["https://dyn.example.com/cb"],
        "grant_types": ["authorization_code", "implicit"],
        "response_types": ["code", "id_token code"],
    }
    response = register(client, metadata, token=initial_token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grant_types"] == ["authorization_code", "implicit"]
    assert body["response_types"] == ["code", "code id_token"]
    registered = registered_client(body)
    params, _verifier = request_for(registered, "code id_token")
    sent = fragment_of(answered(logged_in, params), registered)
    assert "code" in sent and "id_token" in sent
    # It did not register "code id_token token".
    params, _verifier = request_for(registered, "code id_token token")
    assert fragment_of(logged_in.get(AUTHORIZE, params), registered)["error"] == "unauthorized_client"


def test_registration_implicit_only_client_gets_id_tokens_and_no_code(
    client, signing_keys, initial_token, logged_in
):
    metadata = {
        "redirect_uris": ["https://dyn.example.com/cb"],
        "grant_types": ["implicit"],
        "response_types": ["id_token"],
    }
    response = register(client, metadata, token=initial_token)
    assert response.status_code == 201, response.content
    assert response.json()["grant_types"] == ["implicit"]
    registered = registered_client(response.json())
    params, _verifier = request_for(registered, "id_token")
    assert "id_token" in fragment_of(answered(logged_in, params), registered)
    params, _verifier = request_for(registered, "code")
    response = logged_in.get(AUTHORIZE, params)
    assert "error=unauthorized_client" in response["Location"]


@pytest.mark.parametrize(
    "metadata",
    [
        # RFC 7591 §2.1: an id_token or token type needs the implicit grant, and implicit needs one.
        {"response_types": ["code", "code id_token"]},
        {"grant_types": ["authorization_code", "implicit"], "response_types": ["code"]},
        # A type with "code" needs the authorization_code grant.
        {"grant_types": ["implicit"], "response_types": ["code id_token"]},
        # Not served: OAuth's bare implicit "token", and nonsense.
        {"grant_types": ["authorization_code", "implicit"], "response_types": ["code", "token"]},
        {"grant_types": ["authorization_code", "implicit"], "response_types": ["code id_token id_token"]},
    ],
)
def test_registration_refuses_inconsistent_response_types(client, signing_keys, initial_token, metadata):
    response = register(
        client, {"redirect_uris": ["https://dyn.example.com/cb"], **metadata}, token=initial_token
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert not Client.objects.exists()


# --- commands ---------------------------------------------------------------------------------


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createclient_response_type_turns_on_the_hybrid_flow(signing_keys, logged_in):
    created = json.loads(
        command(
            "createclient",
            "Legacy SPA",
            "--redirect-uri",
            "https://legacy.example.com/cb",
            "--response-type",
            "code",
            "--response-type",
            "id_token code",
            "--json",
        )
    )
    model = Client.objects.get(client_id=created["client_id"])
    assert model.response_types == ["code", "code id_token"]
    registered = RegisteredClient(
        created["client_id"], created["client_secret"], "https://legacy.example.com/cb", model
    )
    params, _verifier = request_for(registered, "code id_token")
    assert "id_token" in fragment_of(answered(logged_in, params), registered)


def test_createclient_refuses_an_unknown_response_type(db):
    with pytest.raises(CommandError, match="response_types"):
        command(
            "createclient", "App", "--redirect-uri", "https://a.example.com/cb", "--response-type", "token"
        )
    assert not Client.objects.exists()


def test_updateclient_response_type_replaces_the_list(hybrid_rp, client):
    shown = json.loads(command("updateclient", hybrid_rp.client_id, "--response-type", "code", "--json"))
    assert shown["response_types"] == ["code"]
    assert shown["changed"] == ["response_types"]
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code"]


# --- admin ------------------------------------------------------------------------------------


def test_admin_shows_response_types_under_discouraged_with_the_reason(staff, rp):
    page = staff.get(f"/admin/oidc_provider/client/{rp.model.pk}/change/").content.decode()
    assert "Advanced / discouraged" in page
    # The reason in plain words (tokens in the browser leak); the RFC reference lives in the docs.
    assert "send tokens through the browser, where they leak" in page
    assert "code flow with PKCE" in page and "RFC" not in page.split("Advanced / discouraged")[1][:2000]
    assert 'value="code id_token"' in page


def test_admin_turns_the_hybrid_flow_on_for_one_client(staff, rp, logged_in, client):
    response = change_client_in_admin(staff, rp.model, response_types=["code", "code id_token"])
    assert response.status_code == 302, response.content[:2000]
    rp.model.refresh_from_db()
    assert rp.model.response_types == ["code", "code id_token"]
    assert client.get(DISCOVERY).json()["response_types_supported"] == ["code", "code id_token"]
    params, _verifier = request_for(rp, "code id_token")
    assert "id_token" in fragment_of(answered(logged_in, params), rp)


def test_admin_new_web_app_gets_only_the_code_flow(staff, signing_keys):
    response = add_client_in_admin(staff)
    assert response.status_code == 200
    assert Client.objects.get(name="Admin-made app").response_types == ["code"]


# --- APIs -------------------------------------------------------------------------------------


def test_front_channel_access_token_for_an_api_is_for_that_api(hybrid_rp, logged_in):
    api_save(api=Api(identifier="https://orders.example.com", name="Orders"), scopes={"read:orders": "Read"})
    client_scopes_change(client=hybrid_rp.model, allow=["read:orders"])
    params, _verifier = request_for(hybrid_rp, "id_token token", scope="openid read:orders")
    sent = fragment_of(answered(logged_in, params), hybrid_rp)
    access = claims_of(sent["access_token"])
    assert access["aud"] == "https://orders.example.com"
    assert access["scope"].split() == ["openid", "read:orders"]
    assert access["exp"] - access["iat"] <= FRONT_CHANNEL_TOKEN_LIFETIME
    assert AccessToken.objects.get().resource == ["https://orders.example.com"]
