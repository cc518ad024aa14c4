"""Pairwise subjects (OIDC Core 1.0 §8.1): each sector sees its own sub, everywhere a sub appears.

The sector identifier document is served by a real https server on loopback (tests/sector_server.py)
and fetched through the provider's guarded outbound client; the suite allows loopback
(tests/conftest.py), and the tests that check the guard take that allowance away.
"""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from oidc_provider.models import Client
from tests.admin_forms import add_client_in_admin, change_client_in_admin
from tests.conftest import ISSUER, PASSWORD, authorize, exchange, sign_in, validate_id_token
from tests.environment import load_settings
from tests.logout_receiver import validate_logout_token
from tests.oauth import introspection, register
from tests.sector_server import SectorServer, make_certificates
from tests.tokens import claims_of

PAIRWISE_SUB = re.compile(r"^[A-Za-z0-9_-]{43}$")
RULE = "outbound requests go only to public addresses unless PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS allows it"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("sector-tls"))


@pytest.fixture
def sector(certificates, monkeypatch):
    """An https server for sector identifier documents, whose authority the provider trusts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
    server = SectorServer(certificates).start()
    yield server
    server.stop()


@pytest.fixture
def pairwise_app(make_client, signing_keys):
    def make(name: str, redirect_uris=("https://rp.example.com/callback",), **options):
        return make_client(
            name=name, redirect_uris=redirect_uris, subject={"subject_type": "pairwise"}, **options
        )

    return make


def _flow(browser, app, client, *, scope="openid profile email") -> tuple[dict, dict]:
    """Run the code flow for ``app`` in ``browser``; return the ID token claims and the tokens."""
    result = authorize(browser, app, scope=scope)
    response = exchange(client, app, result)
    assert response.status_code == 200, response.content
    tokens = response.json()
    jwks = client.get("/o/jwks/").json()
    claims = validate_id_token(tokens["id_token"], jwks=jwks, audience=app.client_id, nonce=result.nonce)
    return claims, tokens


def _userinfo(client, tokens) -> dict:
    return client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()


def test_pairwise_every_output_carries_the_sectors_sub(pairwise_app, logged_in, client, user):
    app = pairwise_app("Pairwise app")
    claims, tokens = _flow(logged_in, app, client)
    sub = claims["sub"]
    assert PAIRWISE_SUB.match(sub) and sub != user.subject
    assert _userinfo(client, tokens)["sub"] == sub
    # RFC 9068 JWT access token, and introspection of the access and the refresh token.
    assert claims_of(tokens["access_token"])["sub"] == sub
    assert introspection(client, app, tokens["access_token"])["sub"] == sub
    assert introspection(client, app, tokens["refresh_token"])["sub"] == sub
    # A refreshed ID token says the same.
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    ).json()
    assert claims_of(refreshed["id_token"])["sub"] == sub
    everything = json.dumps([claims, _userinfo(client, tokens), claims_of(tokens["access_token"])])
    assert user.subject not in everything


def test_pairwise_same_sector_same_sub_other_sector_other_sub(
    pairwise_app, make_client, logged_in, client, user
):
    first = pairwise_app("First", redirect_uris=("https://apps.example.com/one/cb",))
    second = pairwise_app(
        "Second", redirect_uris=("https://apps.example.com/two/cb", "https://APPS.example.com/3")
    )
    elsewhere = pairwise_app("Elsewhere", redirect_uris=("https://other.example.net/cb",))
    public = make_client(name="Public app")
    subs = {
        app.client_id: _flow(logged_in, app, client)[0]["sub"] for app in (first, second, elsewhere, public)
    }
    assert subs[first.client_id] == subs[second.client_id]
    assert subs[elsewhere.client_id] != subs[first.client_id]
    assert subs[public.client_id] == user.subject
    assert user.subject not in {subs[first.client_id], subs[elsewhere.client_id]}


def test_pairwise_subs_differ_between_users(pairwise_app, browser, client, user, django_user_model):
    app = pairwise_app("Pairwise app")
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    sign_in(browser, "alice", PASSWORD)
    alice_sub = _flow(browser, app, client)[0]["sub"]
    browser.post("/accounts/logout/")
    sign_in(browser, "bob", PASSWORD)
    assert _flow(browser, app, client)[0]["sub"] != alice_sub


def test_pairwise_sub_depends_on_the_salt(pairwise_app, logged_in, client, settings):
    app = pairwise_app("Pairwise app")
    before = _flow(logged_in, app, client)[0]["sub"]
    assert _flow(logged_in, app, client)[0]["sub"] == before
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "PAIRWISE_SALT": "another salt of enough length"}
    assert _flow(logged_in, app, client)[0]["sub"] != before


def test_pairwise_id_token_hint_names_the_user_by_the_pairwise_sub(
    pairwise_app, logged_in, client, django_user_model
):
    app = pairwise_app("Pairwise app")
    claims, tokens = _flow(logged_in, app, client)
    # OIDC Core 1.0 §3.1.2.1: prompt=none with a hint naming the signed-in user issues a code.
    silent = authorize(logged_in, app, scope="openid", prompt="none", id_token_hint=tokens["id_token"])
    assert silent.code
    # A hint for someone else asks for a new sign-in.
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    other = sign_in(type(logged_in)(), "bob", PASSWORD)
    other_tokens = _flow(other, app, client)[1]
    refused = authorize(logged_in, app, scope="openid", prompt="none", id_token_hint=other_tokens["id_token"])
    assert not refused.code and "error=login_required" in refused.response["Location"]


def test_pairwise_end_session_with_hint_signs_out_without_asking(pairwise_app, logged_in, client):
    app = pairwise_app("Pairwise app")
    _claims, tokens = _flow(logged_in, app, client)
    response = logged_in.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://rp.example.com/logged-out",
        },
    )
    # RP-Initiated Logout 1.0 §2: the hint is this session's, so no question is asked.
    assert response.status_code == 302 and response["Location"] == "https://rp.example.com/logged-out"
    assert logged_in.get("/accounts/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_pairwise_logout_token_carries_the_pairwise_sub(make_client, signing_keys, receiver, user, client):
    app = make_client(
        name="Back-channel app",
        subject={"subject_type": "pairwise"},
        logout={"backchannel_logout_uri": receiver.url},
    )
    browser = sign_in(type(client)(), "alice", PASSWORD)
    claims, _tokens = _flow(browser, app, client, scope="openid email")
    browser.post("/accounts/logout/")
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
    (token,) = receiver.tokens
    logout = validate_logout_token(
        token, jwks=client.get("/o/jwks/").json(), audience=app.client_id, issuer=ISSUER
    )
    assert logout["sub"] == claims["sub"] != user.subject


def test_pairwise_sector_identifier_uri_joins_hosts_into_one_sector(
    sector, make_client, logged_in, client, signing_keys
):
    uris = ["https://shop.example.com/cb", "https://account.example.org/oidc/cb"]
    sector.documents["/sector.json"] = [*uris, "https://blog.example.net/cb"]
    subject = {"subject_type": "pairwise", "sector_identifier_uri": sector.url()}
    shop = make_client(name="Shop", redirect_uris=uris, subject=subject)
    blog = make_client(name="Blog", redirect_uris=["https://blog.example.net/cb"], subject=subject)
    assert sector.requests == ["/sector.json", "/sector.json"]
    shop_sub = _flow(logged_in, shop, client)[0]["sub"]
    assert _flow(logged_in, blog, client)[0]["sub"] == shop_sub
    # The sector is the document's host, not the redirect URIs'.
    plain = make_client(
        name="Plain", redirect_uris=["https://shop.example.com/other"], subject={"subject_type": "pairwise"}
    )
    assert _flow(logged_in, plain, client)[0]["sub"] != shop_sub


def test_pairwise_sector_document_must_list_every_redirect_uri(sector, signing_keys, db):
    sector.documents["/sector.json"] = ["https://shop.example.com/cb"]
    with pytest.raises(CommandError) as refused:
        call_command(
            "createclient",
            "Shop",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--redirect-uri",
            "https://account.example.org/cb",
            "--subject-type",
            "pairwise",
            "--sector-identifier-uri",
            sector.url(),
            stdout=StringIO(),
        )
    assert "does not list every redirect URI" in str(refused.value)
    assert "https://account.example.org/cb" in str(refused.value)
    assert not Client.objects.filter(name="Shop").exists()


@pytest.mark.parametrize(
    ("document", "status", "expected"),
    [
        ({"redirect_uris": []}, 200, "must be a JSON array of redirect URIs"),
        (b"<html>", 200, "is not JSON"),
        (["https://shop.example.com/cb"], 404, "answered HTTP 404"),
    ],
)
def test_pairwise_sector_document_must_be_a_json_array(sector, signing_keys, db, document, status, expected):
    sector.documents["/sector.json"] = document
    sector.status = status
    with pytest.raises(CommandError, match=expected):
        call_command(
            "createclient",
            "Shop",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--sector-identifier-uri",
            sector.url(),
            "--subject-type",
            "pairwise",
            stdout=StringIO(),
        )


def test_pairwise_sector_identifier_uri_must_be_https(signing_keys, db):
    with pytest.raises(CommandError, match="must be an https:// URL"):
        call_command(
            "createclient",
            "Shop",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--subject-type",
            "pairwise",
            "--sector-identifier-uri",
            "http://shop.example.com/sector.json",
            stdout=StringIO(),
        )


def test_pairwise_sector_fetch_obeys_the_outbound_guard(sector, settings, signing_keys, db):
    sector.documents["/sector.json"] = ["https://shop.example.com/cb"]
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}
    with pytest.raises(CommandError, match=RULE):
        call_command(
            "createclient",
            "Shop",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--subject-type",
            "pairwise",
            "--sector-identifier-uri",
            sector.url(),
            stdout=StringIO(),
        )
    assert sector.requests == []


def test_pairwise_redirect_uris_on_several_hosts_need_a_sector_document(signing_keys, db):
    with pytest.raises(CommandError, match="more than one host"):
        call_command(
            "createclient",
            "Two hosts",
            "--redirect-uri",
            "https://a.example.com/cb",
            "--redirect-uri",
            "https://b.example.com/cb",
            "--subject-type",
            "pairwise",
            stdout=StringIO(),
        )


def test_pairwise_needs_the_salt(settings, signing_keys, db):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "PAIRWISE_SALT": ""}
    with pytest.raises(CommandError, match="Set PORCHLIGHT_PAIRWISE_SALT"):
        call_command(
            "createclient",
            "Salty",
            "--redirect-uri",
            "https://a.example.com/cb",
            "--subject-type",
            "pairwise",
        )


def test_pairwise_commands_show_and_change_the_subject_type(sector, make_client, signing_keys):
    app = make_client(
        name="Changing app", redirect_uris=["https://a.example.com/cb", "https://b.example.org/cb"]
    )
    out = StringIO()
    call_command("showclient", app.client_id, "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["subject_type"] == "public" and shown["sector_identifier_uri"] == ""
    sector.documents["/s.json"] = ["https://a.example.com/cb", "https://b.example.org/cb"]
    out = StringIO()
    call_command(
        "updateclient",
        app.client_id,
        "--subject-type",
        "pairwise",
        "--sector-identifier-uri",
        sector.url("/s.json"),
        "--json",
        stdout=out,
    )
    changed = json.loads(out.getvalue())
    assert changed["subject_type"] == "pairwise" and changed["sector_identifier_uri"] == sector.url("/s.json")
    assert sorted(changed["changed"]) == ["sector_identifier_uri", "subject_type"]
    # Other changes do not fetch the document again.
    call_command("updateclient", app.client_id, "--name", "Renamed app", stdout=StringIO())
    assert sector.requests == ["/s.json"]
    # Removing the sector document leaves redirect URIs on two hosts: refused.
    with pytest.raises(CommandError, match="more than one host"):
        call_command("updateclient", app.client_id, "--sector-identifier-uri", "", stdout=StringIO())


def test_pairwise_dynamic_registration(sector, client, initial_token, logged_in, signing_keys):
    uris = ["https://dyn.example.com/cb", "https://dyn.example.org/cb"]
    sector.documents["/dyn.json"] = uris
    response = register(
        client,
        {"redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": sector.url("/dyn.json")},
        token=initial_token,
    )
    assert response.status_code == 201, response.content
    registered = response.json()
    assert registered["subject_type"] == "pairwise"
    assert registered["sector_identifier_uri"] == sector.url("/dyn.json")
    sector.documents["/dyn.json"] = uris[:1]
    refused = register(
        client,
        {"redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": sector.url("/dyn.json")},
        token=initial_token,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_client_metadata"
    assert "does not list every redirect URI" in refused.json()["error_description"]
    two_hosts = register(client, {"redirect_uris": uris, "subject_type": "pairwise"}, token=initial_token)
    assert two_hosts.status_code == 400 and two_hosts.json()["error"] == "invalid_client_metadata"


def test_pairwise_discovery_advertises_both_subject_types(client, signing_keys):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["subject_types_supported"] == ["public", "pairwise"]


def test_pairwise_admin_shows_and_checks_the_settings(staff, sector, make_client, signing_keys):
    app = make_client(
        name="Admin app", redirect_uris=["https://a.example.com/cb", "https://b.example.org/cb"]
    )
    page = staff.get(f"/admin/oidc_provider/client/{app.model.pk}/change/").content.decode()
    assert 'name="subject_type"' in page and 'name="sector_identifier_uri"' in page
    refused = change_client_in_admin(staff, app.model, subject_type="pairwise")
    assert refused.status_code == 200 and "more than one host" in refused.content.decode()
    sector.documents["/sector.json"] = ["https://a.example.com/cb", "https://b.example.org/cb"]
    saved = change_client_in_admin(
        staff, app.model, subject_type="pairwise", sector_identifier_uri=sector.url()
    )
    assert saved.status_code == 302
    app.model.refresh_from_db()
    assert app.model.subject_type == "pairwise" and app.model.sector_identifier_uri == sector.url()
    made = add_client_in_admin(staff, name="New pairwise", subject_type="pairwise")
    assert made.status_code == 200 and Client.objects.get(name="New pairwise").subject_type == "pairwise"


def test_pairwise_connected_apps_and_export_still_work(pairwise_app, logged_in, client, user):
    app = pairwise_app("Pairwise app")
    sub = _flow(logged_in, app, client)[0]["sub"]
    page = logged_in.get("/account/apps/")
    assert page.status_code == 200 and "Pairwise app" in page.content.decode()
    out = StringIO()
    call_command("exportuser", "alice", stdout=out, stderr=StringIO())
    document = json.loads(out.getvalue())
    # The person's copy says which identifier each app knows them by.
    (connected,) = document["connected_apps"]
    assert connected["app"] == "Pairwise app" and connected["sub"] == sub
    assert document["subject"] == user.subject


def test_pairwise_salt_setting_is_checked_at_start_up(tmp_path):
    short = load_settings(tmp_path, PORCHLIGHT_PAIRWISE_SALT="too short")
    assert short.returncode != 0
    assert "PORCHLIGHT_PAIRWISE_SALT must be at least 16 characters" in short.stderr
    salt_file = tmp_path / "salt"
    salt_file.write_text("s" * 32 + "\n")
    read = load_settings(
        tmp_path, "settings.PORCHLIGHT['PAIRWISE_SALT']", PORCHLIGHT_PAIRWISE_SALT_FILE=str(salt_file)
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "s" * 32


def test_pairwise_salt_is_not_needed_to_start_in_production(tmp_path):
    production = load_settings(
        tmp_path,
        "repr(settings.PORCHLIGHT['PAIRWISE_SALT'])",
        PORCHLIGHT_ISSUER="https://id.example.com",
        PORCHLIGHT_SECRET_KEY="x" * 50,
        PORCHLIGHT_KEY_ENCRYPTION_KEY="k" * 50,
    )
    assert production.returncode == 0, production.stderr
    # Unset: no development value outside development, so no app can be made pairwise.
    assert production.stdout.strip() == "''"
