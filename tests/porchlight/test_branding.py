"""The service's name, logo and colour reach every page people read, its mails and its error pages."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from tests.environment import load_settings


@pytest.fixture
def acme(settings):
    settings.SITE_NAME = "Acme ID"
    settings.LOGO_URL = "/static/acme.svg"
    settings.ACCENT_COLOR = "#c0ffee"


def test_branding_name_logo_and_colour_on_the_pages(acme, client, db):
    page = client.get("/accounts/login/").content.decode()
    assert "<title>Sign in · Acme ID</title>" in page
    assert '<img class="logo" src="/static/acme.svg" alt="" height="28"> Acme ID' in page
    assert ":root { --accent: #c0ffee; }" in page
    assert "Porchlight" not in page


def test_branding_name_in_the_consent_text(acme, logged_in, make_client):
    rp = make_client(name="Wiki")
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert "Wiki</strong> wants to use your Acme ID account" in response.content.decode()


def test_branding_name_in_the_password_reset_mail(acme, client, user, mailoutbox):
    client.post("/accounts/password/reset/", {"email": user.email})
    assert mailoutbox[0].subject == "Reset your Acme ID password"
    assert "the Acme ID account alice" in mailoutbox[0].body


def test_branding_name_and_logo_in_the_admin(acme, staff):
    page = staff.get("/admin/").content.decode()
    assert '<img class="logo" src="/static/acme.svg" alt="" height="28"> Acme ID administration' in page


def test_branding_without_settings_is_plain(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert "--accent:" not in page.split("</head>")[0].split("site.css")[1]
    assert '<img class="logo"' not in page


@pytest.mark.parametrize(
    ("variable", "value", "ok"),
    [
        ("PORCHLIGHT_ACCENT_COLOR", "#0b5cad", True),
        ("PORCHLIGHT_ACCENT_COLOR", "#fff", True),
        ("PORCHLIGHT_ACCENT_COLOR", "red; } body { display: none", False),
        ("PORCHLIGHT_ACCENT_COLOR", "#12345", False),
        ("PORCHLIGHT_LOGO_URL", "https://cdn.example.com/logo.svg", True),
        ("PORCHLIGHT_LOGO_URL", "/static/logo.svg", True),
        ("PORCHLIGHT_LOGO_URL", "javascript:alert(1)", False),
        ("PORCHLIGHT_LOGO_URL", "//evil.example.com/logo.svg", False),
        ("PORCHLIGHT_LOGO_URL", '/x.svg" onerror="alert(1)', False),
    ],
)
def test_branding_settings_refuse_what_is_not_a_colour_or_an_address(tmp_path, variable, value, ok):
    result = load_settings(tmp_path, **{variable: value})
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert variable in result.stderr


def test_error_page_404_says_what_was_asked_for_and_offers_a_way_on(acme, client, db):
    response = client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "There is no page here" in page and "/no/such/page/" in page and "Acme ID" in page
    assert 'href="/accounts/"' in page


def test_error_page_403_for_a_signed_in_non_staff_user(logged_in):
    response = logged_in.get("/admin/", follow=True)
    assert response.status_code == 403


def test_error_page_500_renders_without_a_request_context(acme, db):
    # Django renders 500.html with an empty context (no request, no context processors).
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page and "Acme ID could not finish" in page
    assert 'href="/accounts/"' in page


def test_error_page_for_a_csrf_failure_explains_the_expired_form(client, user):
    strict = client.__class__(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "alice", "password": "x"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_error_page_for_an_unregistered_redirect_uri_shows_what_was_received(logged_in, rp):
    response = logged_in.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": "https://evil.example.com/cb",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "https://evil.example.com/cb" in page and rp.client_id in page
    assert "compare the return address below" in page
    assert 'href="/accounts/"' in page


def test_branding_without_a_logo_shows_porchlights_mark_and_a_favicon(client, db):
    page = client.get("/accounts/login/").content.decode()
    brand = page.split('class="brand"')[1].split("</a>")[0]
    assert '<svg class="mark"' in brand and "Porchlight" in brand
    head = page.split("</head>")[0]
    assert 'rel="icon"' in head and "favicon.svg" in head and "favicon.ico" in head


def test_branding_logo_replaces_the_mark(acme, client, db):
    page = client.get("/accounts/login/").content.decode()
    assert '<svg class="mark"' not in page.split('class="brand"')[1].split("</a>")[0]
