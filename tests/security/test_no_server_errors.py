"""No input produces a 500: a fuzzing run of malformed requests found three.

- ``POST /o/introspect/`` with ``token_type_hint=refresh_token`` and control characters in the token;
- ``POST /o/introspect/`` with an empty token and an unknown ``token_type_hint``;
- ``POST /accounts/login/`` declaring ``charset=utf-7``, answered by gunicorn's own error page.

The classes behind them: a form declaring a charset other than UTF-8 (Django refuses it on every
read of ``request.POST``, its error handlers read it again, and UTF-7 decodes to lone surrogates
that oauthlib cannot encode), a Content-Type Django cannot parse (it raises while building the
request, before any middleware), and token values with any bytes at every place a token is looked
up. Each test sends what an attacker would and asserts what the client or the person sees.
"""

import io
import json
import re

import pytest
import requests
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client as BrowserClient

from oidc_provider.models import Grant, GrantType
from tests.cluster import collected_static, gunicorn_node, manage, node_environment, scratch_database
from tests.conftest import PASSWORD, basic_auth, pkce_pair
from tests.error_responses import LONG, assert_json_error, assert_page

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "porchlight-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
# The project's own 400 page (templates/400.html), as opposed to gunicorn's or Django's plain one.
BAD_REQUEST_PAGE = "That request could not be understood"

# A charset Python does not know, one that decodes to lone surrogates, one that the body's odd
# length cannot be, one Django refuses for forms, and a codec that is not a text encoding.
BAD_CHARSET_BODIES = {
    "nonsense": b"token=a&username=alice&user_code=a",
    "utf-7": b"token=+2AA-&username=+2AA-&user_code=+2AA-",
    "utf-16": "token=a&username=a".encode("utf-16") + b"\x00",
    "iso-8859-1": b"token=\xe9&username=\xe9&user_code=\xe9",
    "base64": b"token=a&username=a&user_code=a",
}
PROTOCOL_FORMS = ["/o/token/", "/o/introspect/", "/o/revoke/", "/o/device/", "/o/userinfo/", "/o/register/"]
PAGE_FORMS = ["/accounts/login/", "/accounts/password/reset/", "/device/"]

# Token values as they travel percent-encoded in a form body: control characters (NEL, VT, ESC),
# NUL, a UTF-8-encoded lone surrogate, bytes that are not UTF-8, far too long, and empty.
TOKEN_VALUES = {
    "control": "a%C2%85%0B%1Bb",
    "nul": "a%00b",
    "surrogate": "a%ED%A0%80b",
    "not-utf8": "a%FF%FEb",
    "long": LONG,
    "empty": "",
}
# The same as a header carries them: WSGI hands header bytes over as latin-1 text.
HEADER_VALUES = {
    "control": "a\x85\x0b\x1bb",
    "nul": "a\x00b",
    "surrogate": "a\xed\xa0\x80b",
    "not-utf8": "a\xff\xfeb",
    "long": LONG,
    "empty": "",
}
HINTS = ["access_token", "refresh_token", "id_token", "bogus", None]


def multipart(fields: dict[str, bytes]) -> bytes:
    """Return ``fields`` as a multipart/form-data body (RFC 7578), the values sent as they are."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def form_body(shape: str, fields: dict[str, bytes]) -> tuple[bytes, str]:
    """Return ``fields`` as a urlencoded or multipart body, values as they are, with its media type."""
    if shape == "multipart":
        return multipart(fields), MULTIPART
    return b"&".join(name.encode() + b"=" + value for name, value in fields.items()), FORM


def signed_out_browser() -> tuple[BrowserClient, str]:
    """Return a browser that checks CSRF as production does, with the token the login page gave it."""
    browser = BrowserClient(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    return browser, str(page.context["csrf_token"])


def assert_bad_request_page(response) -> None:
    assert_page(response)
    assert BAD_REQUEST_PAGE in response.content.decode()


@pytest.fixture
def resource_server(make_client):
    """A confidential client, authenticating with Basic, that calls the protocol endpoints."""
    return make_client(name="Resource server", grant_types=[GrantType.CLIENT_CREDENTIALS])


# --- the three requests the fuzzing run found -------------------------------------------------------


def test_introspection_refresh_hint_with_control_characters_is_inactive(client, resource_server):
    response = client.generic(
        "POST",
        "/o/introspect/",
        b"token=a%C2%85%0B%1Bb&token_type_hint=refresh_token",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_auth(resource_server.client_id, resource_server.client_secret),
    )
    # RFC 7662 §2.2: a token that is not active, or not a token at all, is {"active": false}.
    assert response.status_code == 200
    assert response.json() == {"active": False}
    assert response["Cache-Control"] == "no-store"


def test_introspection_empty_token_with_unknown_hint_is_invalid_request(client, resource_server):
    response = client.generic(
        "POST",
        "/o/introspect/",
        b"token=&token_type_hint=unknown",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_auth(resource_server.client_id, resource_server.client_secret),
    )
    # RFC 6749 §3.1: a parameter without a value is omitted, and RFC 7662 §2.1 requires token.
    assert_json_error(response)


def test_login_form_in_utf7_is_the_400_page(db):
    browser, csrf = signed_out_browser()
    response = browser.generic(
        "POST",
        "/accounts/login/",
        f"csrfmiddlewaretoken={csrf}&username=+2AA-&password=x".encode(),
        content_type=f"{FORM}; charset=utf-7",
    )
    assert_bad_request_page(response)


# --- any declared charset, at every form endpoint ---------------------------------------------------


@pytest.mark.parametrize("shape", ["urlencoded", "multipart"])
@pytest.mark.parametrize("charset", BAD_CHARSET_BODIES)
@pytest.mark.parametrize("path", PROTOCOL_FORMS)
def test_protocol_form_in_another_charset_is_invalid_request(path, charset, shape, client, resource_server):
    body, content_type = form_body(
        shape, {"grant_type": b"client_credentials", "token": BAD_CHARSET_BODIES[charset]}
    )
    response = client.generic(
        "POST",
        path,
        body,
        content_type=f"{content_type}; charset={charset}",
        HTTP_AUTHORIZATION=basic_auth(resource_server.client_id, resource_server.client_secret),
    )
    assert "UTF-8" in assert_json_error(response)["error_description"]


@pytest.mark.parametrize("shape", ["urlencoded", "multipart"])
@pytest.mark.parametrize("charset", BAD_CHARSET_BODIES)
@pytest.mark.parametrize("path", PAGE_FORMS)
def test_page_form_in_another_charset_is_the_400_page(path, charset, shape, db):
    browser, csrf = signed_out_browser()
    body, content_type = form_body(
        shape, {"csrfmiddlewaretoken": csrf.encode(), "username": BAD_CHARSET_BODIES[charset]}
    )
    response = browser.generic("POST", path, body, content_type=f"{content_type}; charset={charset}")
    assert_bad_request_page(response)


@pytest.mark.parametrize("path", ["/o/authorize/", "/o/logout/"])
@pytest.mark.parametrize("charset", BAD_CHARSET_BODIES)
def test_authorize_and_logout_form_in_another_charset_is_an_error_page(path, charset, db):
    browser, csrf = signed_out_browser()
    body = b"csrfmiddlewaretoken=" + csrf.encode() + b"&" + BAD_CHARSET_BODIES[charset]
    response = browser.generic("POST", path, body, content_type=f"{FORM}; charset={charset}")
    assert_page(response)
    assert "a form must be sent in UTF-8" in response.content.decode()
    assert not Grant.objects.exists()


# Forms Django refuses to parse (DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_MEMORY_SIZE): it
# raises on every read of request.POST, as for a charset it will not decode.
OVERSIZED_FORMS = {
    "too-many-fields": "&".join(f"f{number}=x" for number in range(1_001)),
    "too-big": "f=" + "x" * (2_621_440 + 1),
}


@pytest.mark.parametrize("form", OVERSIZED_FORMS)
def test_oversized_login_form_is_the_400_page(form, db):
    browser, csrf = signed_out_browser()
    body = f"csrfmiddlewaretoken={csrf}&{OVERSIZED_FORMS[form]}".encode()
    assert_bad_request_page(browser.generic("POST", "/accounts/login/", body, content_type=FORM))


@pytest.mark.parametrize("form", OVERSIZED_FORMS)
@pytest.mark.parametrize("path", ["/o/token/", "/o/introspect/"])
def test_oversized_protocol_form_is_invalid_request(path, form, client, resource_server):
    response = client.generic(
        "POST",
        path,
        OVERSIZED_FORMS[form].encode(),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_auth(resource_server.client_id, resource_server.client_secret),
    )
    assert_json_error(response)


UTF8_LABELS = ["UTF-8", "utf8", '"utf-8"', "Unicode-1-1-UTF-8"]


@pytest.mark.parametrize("charset", UTF8_LABELS)
@pytest.mark.parametrize("shape", ["urlencoded", "multipart"])
def test_token_form_in_a_label_of_utf8_is_answered(shape, charset, client, make_client, signing_keys):
    backend = make_client(name="Backend", grant_types=[GrantType.CLIENT_CREDENTIALS])
    body, content_type = form_body(shape, {"grant_type": b"client_credentials"})
    response = client.generic(
        "POST",
        "/o/token/",
        body,
        content_type=f"{content_type}; charset={charset}",
        HTTP_AUTHORIZATION=basic_auth(backend.client_id, backend.client_secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


@pytest.mark.parametrize("charset", UTF8_LABELS)
@pytest.mark.parametrize("shape", ["urlencoded", "multipart"])
def test_login_form_in_a_label_of_utf8_is_decoded(shape, charset, django_user_model):
    django_user_model.objects.create_user(username="zo\u00eb", password=PASSWORD)
    browser, csrf = signed_out_browser()
    # The name travels as UTF-8 bytes, percent-encoded in a urlencoded body and raw in a multipart one.
    name = b"zo%C3%AB" if shape == "urlencoded" else "zo\u00eb".encode()
    fields = {"csrfmiddlewaretoken": csrf.encode(), "username": name, "password": PASSWORD.encode()}
    if shape == "urlencoded":
        fields["password"] = PASSWORD.replace(" ", "+").encode()
    body, content_type = form_body(shape, fields)
    response = browser.generic(
        "POST", "/accounts/login/", body, content_type=f"{content_type}; charset={charset}"
    )
    assert response.status_code == 302, response.content[:300]


@pytest.mark.parametrize("charset", ["utf-7", "utf-16", "nonsense"])
def test_query_string_is_utf8_whatever_the_body_declares(charset, client, browser, db):
    # Django decodes the query string in the declared charset too; a URL is UTF-8 (RFC 3986 §2.5).
    response = client.get(
        "/o/userinfo/",
        QUERY_STRING="x=%2B2AA-",
        CONTENT_TYPE=f"text/plain; charset={charset}",
        HTTP_AUTHORIZATION="Bearer garbage",
    )
    assert_json_error(response, status=401, error="invalid_token")
    page = browser.get(
        "/o/authorize/", QUERY_STRING="client_id=%2B2AA-", CONTENT_TYPE=f"text/plain; charset={charset}"
    )
    assert_page(page)
    # The error page shows the client_id it received, decoded as UTF-8.
    assert "+2AA-" in page.content.decode()


@pytest.mark.parametrize(
    ("charset", "encoding"), [("utf-16", "utf-16"), ("nonsense", "utf-8"), ("utf-7", "utf-8")]
)
def test_registration_json_is_read_as_json_whatever_charset_it_declares(
    charset, encoding, client, initial_token, signing_keys
):
    metadata = {"client_name": "Charset app", "redirect_uris": ["https://rp.example.com/cb"]}
    response = client.generic(
        "POST",
        "/o/register/",
        json.dumps(metadata).encode(encoding),
        content_type=f"application/json; charset={charset}",
        HTTP_AUTHORIZATION=f"Bearer {initial_token}",
    )
    # RFC 8259 §11: JSON has no charset parameter; §8.1: its encoding is found from the text.
    assert response.status_code == 201, response.content
    assert response.json()["client_name"] == "Charset app"


@pytest.mark.parametrize("body", [b"\xff\xfe\x00", b'{"client_name": "\xed\xa0\x80"}', b"+AHs-"])
def test_registration_undecodable_json_is_invalid_client_metadata(body, client, initial_token, db):
    response = client.generic(
        "POST",
        "/o/register/",
        body,
        content_type="application/json; charset=utf-7",
        HTTP_AUTHORIZATION=f"Bearer {initial_token}",
    )
    assert_json_error(response, error="invalid_client_metadata")


# --- a Content-Type Django cannot parse, through the WSGI entry point gunicorn serves ------------

UNPARSEABLE_CONTENT_TYPES = [
    # RFC 2231 parameters in a charset Python does not know, or with NUL in them.
    f"{FORM}; charset*=nonsense''%41",
    f"{FORM}; charset*=utf-8''utf%00-8",
    f"{MULTIPART}; boundary*=nonsense''x",
    # A codec that is no text encoding: Django decodes the query string with it at once.
    "text/plain; charset=base64",
]


def wsgi_call(
    path: str, *, method: str, content_type: str, body: bytes = b"", query: str = "x=1"
) -> tuple[str, dict, bytes]:
    """Send one request to ``porchlight.wsgi.application`` as gunicorn would; return what it answers."""
    # Imported here, not at collection: the module closes the database connections as it loads.
    from porchlight.wsgi import application

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    answered: list[tuple[str, dict[str, str]]] = []

    def start_response(status, headers, exc_info=None):
        answered.append((status, dict(headers)))

    # As Django's test client does: these would reach for the test database around the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, headers = answered[-1]  # the last call stands (PEP 3333, start_response with exc_info)
    return status, headers, content


@pytest.mark.parametrize("content_type", UNPARSEABLE_CONTENT_TYPES)
def test_unparseable_content_type_is_400_from_the_wsgi_application(content_type):
    # No database: the request is refused before anything would look anything up.
    status, headers, content = wsgi_call(
        "/o/token/", method="POST", content_type=content_type, body=b"grant_type=client_credentials"
    )
    assert status.startswith("400")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(content)["error"] == "invalid_request"
    status, headers, content = wsgi_call("/accounts/login/", method="GET", content_type=content_type)
    assert status.startswith("400")
    assert BAD_REQUEST_PAGE in content.decode()
    status, headers, content = wsgi_call("/o/authorize/", method="GET", content_type=content_type)
    assert status.startswith("400")
    assert headers["Content-Type"].startswith("text/html")


# --- token values with any bytes, wherever a token is looked up ----------------------------------


def form_post(http, path: str, body: str, **extra):
    return http.generic("POST", path, body.encode(), content_type=FORM, **extra)


# What each endpoint answers for a token it does not know: RFC 7662 §2.2, inactive; RFC 7009
# §2.2, success, since the client has nothing left to do.
UNKNOWN_TOKEN_ANSWERS = {"/o/introspect/": {"active": False}, "/o/revoke/": None}


@pytest.mark.parametrize("endpoint", UNKNOWN_TOKEN_ANSWERS)
@pytest.mark.parametrize("hint", HINTS)
@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_token_endpoints_answer_any_token_value(endpoint, value, hint, client, resource_server):
    body = f"token={TOKEN_VALUES[value]}" + (f"&token_type_hint={hint}" if hint else "")
    auth = basic_auth(resource_server.client_id, resource_server.client_secret)
    response = form_post(client, endpoint, body, HTTP_AUTHORIZATION=auth)
    if value in ("nul", "empty"):
        # RFC 6749 Appendix A allows no control character and §3.1 treats empty as omitted.
        assert_json_error(response)
    else:
        assert response.status_code == 200
        if UNKNOWN_TOKEN_ANSWERS[endpoint] is not None:
            assert response.json() == UNKNOWN_TOKEN_ANSWERS[endpoint]


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_refresh_grant_with_any_refresh_token(value, client, rp):
    body = f"grant_type=refresh_token&refresh_token={TOKEN_VALUES[value]}"
    response = form_post(
        client, "/o/token/", body, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret)
    )
    # oauthlib asks only whether refresh_token is present: an empty one is an invalid grant.
    assert_json_error(response, error="invalid_request" if value == "nul" else "invalid_grant")


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_code_grant_with_any_code(value, client, rp):
    verifier, _challenge = pkce_pair()
    body = (
        f"grant_type=authorization_code&code={TOKEN_VALUES[value]}"
        f"&redirect_uri={rp.redirect_uri}&code_verifier={verifier}"
    )
    response = form_post(
        client, "/o/token/", body, HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret)
    )
    assert_json_error(response, error="invalid_request" if value == "nul" else "invalid_grant")


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_device_grant_with_any_device_code(value, client, make_client, signing_keys):
    tv = make_client(
        redirect_uris=[], post_logout_redirect_uris=[], public=True, grant_types=[GrantType.DEVICE_CODE]
    )
    body = f"grant_type={GrantType.DEVICE_CODE}&device_code={TOKEN_VALUES[value]}&client_id={tv.client_id}"
    response = form_post(client, "/o/token/", body)
    assert_json_error(response, error="invalid_request" if value in ("nul", "empty") else "invalid_grant")


@pytest.mark.parametrize("value", HEADER_VALUES)
def test_userinfo_with_any_bearer_token(value, client, db):
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {HEADER_VALUES[value]}")
    # RFC 6750 §3.1: a token that is malformed or unknown is invalid_token, 401.
    assert_json_error(response, status=401, error="invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_userinfo_with_any_access_token_in_the_body(value, client, db):
    response = form_post(client, "/o/userinfo/", f"access_token={TOKEN_VALUES[value]}")
    if value == "nul":
        assert_json_error(response)
    else:
        assert_json_error(response, status=401, error="invalid_token")


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_logout_with_any_id_token_hint(value, logged_in, signing_keys):
    response = logged_in.get("/o/logout/", QUERY_STRING=f"id_token_hint={TOKEN_VALUES[value]}")
    if value == "empty":
        # No hint: RP-Initiated Logout 1.0 §2 lets the person confirm signing out.
        assert response.status_code == 200
    else:
        assert_page(response)


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_consent_answer_with_any_request_id(value, logged_in):
    response = form_post(logged_in, "/o/authorize/consent/", f"request_id={TOKEN_VALUES[value]}&allow=1")
    assert_page(response)


@pytest.mark.parametrize("value", TOKEN_VALUES)
def test_device_pages_with_any_code(value, logged_in):
    typed = form_post(logged_in, "/device/", f"user_code={TOKEN_VALUES[value]}")
    assert typed.status_code == 200
    assert "That code is not right" in typed.content.decode()
    confirm = logged_in.get("/device/confirm/", QUERY_STRING=f"request={TOKEN_VALUES[value]}")
    assert_page(confirm)


# --- the same requests against gunicorn, where the UTF-7 login escaped Django ---------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The provider under gunicorn on a scratch database, with a confidential client."""
    tmp_path = tmp_path_factory.mktemp("no-server-errors")
    with scratch_database(tmp_path, migrated=True) as database_url:
        env = node_environment(tmp_path, database_url)
        collected_static(tmp_path)
        manage(env, "rotatekeys")
        client = json.loads(
            manage(env, "createclient", "Resource server", "--grant-type", "client_credentials", "--json")
        )
        with gunicorn_node(env, tmp_path / "gunicorn.log") as base:
            yield base, client


def assert_own_400(response: requests.Response) -> None:
    """Assert a 400 that Porchlight answered, not gunicorn's error page."""
    assert response.status_code == 400, response.text[:300]
    # Every response Django answers carries the request id (ops/request_log.py).
    assert response.headers.get("X-Request-ID")


@pytest.mark.e2e
def test_served_login_form_in_utf7_is_the_400_page(served):
    base, _client = served
    browser = requests.Session()
    page = browser.get(base + "/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        base + "/accounts/login/",
        data=f"csrfmiddlewaretoken={csrf}&username=+2AA-&password=x",
        headers={"Content-Type": f"{FORM}; charset=utf-7", "Referer": base + "/accounts/login/"},
        timeout=10,
    )
    assert_own_400(response)
    assert BAD_REQUEST_PAGE in response.text


@pytest.mark.e2e
def test_served_too_many_login_fields_is_the_400_page(served):
    base, _client = served
    browser = requests.Session()
    page = browser.get(base + "/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        base + "/accounts/login/",
        data=f"csrfmiddlewaretoken={csrf}&{OVERSIZED_FORMS['too-many-fields']}",
        headers={"Content-Type": FORM, "Referer": base + "/accounts/login/"},
        timeout=10,
    )
    assert_own_400(response)
    assert BAD_REQUEST_PAGE in response.text


@pytest.mark.e2e
def test_served_introspection_in_utf7_multipart_is_invalid_request(served):
    base, client = served
    response = requests.post(
        base + "/o/introspect/",
        data=multipart({"token": b"+2AA-", "token_type_hint": b"refresh_token"}),
        headers={"Content-Type": f"{MULTIPART}; charset=utf-7"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert_own_400(response)
    assert response.json()["error"] == "invalid_request"


@pytest.mark.e2e
@pytest.mark.parametrize("content_type", UNPARSEABLE_CONTENT_TYPES)
def test_served_unparseable_content_type_is_400(content_type, served):
    base, client = served
    # With a query string: Django decodes it in the declared charset as it builds the request.
    response = requests.post(
        base + "/o/token/?x=1",
        data="grant_type=client_credentials",
        headers={"Content-Type": content_type},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert_own_400(response)
    assert response.json()["error"] == "invalid_request"
    page = requests.get(base + "/accounts/login/?next=/", headers={"Content-Type": content_type}, timeout=10)
    assert_own_400(page)
    assert BAD_REQUEST_PAGE in page.text
