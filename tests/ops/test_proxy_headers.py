"""Which proxy headers count, by PORCHLIGHT_PROXY_HEADERS: the WSGI environ Django gets, and the refusal.

The environ guard (ops/wsgi_environ.py) runs here on environs as a server builds them, in front of
a real Django handler that shows what a view sees; tests/ops/test_serve.py sends the same headers
to real gunicorn and Granian processes.
"""

import io
import ipaddress
import json
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from ground.client_address import client_ip
from ops import wsgi_environ
from ops.wsgi_environ import RequestEnviron
from tests.environment import ROOT, clean_environment

PROXY = "10.0.0.2"
CLIENT = "198.51.100.7"


@pytest.fixture
def behind_proxy(settings):
    def configure(headers: str) -> None:
        settings.PORCHLIGHT = {
            **settings.PORCHLIGHT,
            "BEHIND_PROXY": True,
            "PROXY_HEADERS": headers,
            "TRUSTED_PROXIES": [ipaddress.ip_network("10.0.0.0/8")],
        }

    return configure


def environ_of(remote: str, **headers: str) -> dict:
    """Return what the guard passes on for a request from ``remote`` with these header variables."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    RequestEnviron(app)(
        {
            "REMOTE_ADDR": remote,
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            **headers,
        },
        lambda *args: None,
    )
    return seen


def forwarded_keys(environ: dict) -> dict:
    return {key: value for key, value in environ.items() if "FORWARDED" in key or key == "wsgi.url_scheme"}


def test_forwarded_from_a_trusted_proxy_becomes_what_django_reads(behind_proxy):
    behind_proxy("forwarded")
    seen = environ_of(
        PROXY,
        HTTP_FORWARDED=f'for="{CLIENT}:5555";proto=https;host=id.example.com',
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_X_FORWARDED_PROTO="http",
        HTTP_X_FORWARDED_HOST="evil.example",
        HTTP_X_FORWARDED_PREFIX="/evil",
    )
    assert forwarded_keys(seen) == {
        "HTTP_X_FORWARDED_FOR": CLIENT,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "id.example.com",
        "wsgi.url_scheme": "https",
    }


def test_forwarded_proto_and_host_come_from_the_element_of_the_proxy_the_client_reached(behind_proxy):
    behind_proxy("forwarded")
    # The client forged the left element; 10.0.0.9 is a proxy of ours in front of 10.0.0.2.
    seen = environ_of(
        PROXY,
        HTTP_FORWARDED=(
            f"for=6.6.6.6;proto=http;host=evil.example, for={CLIENT};proto=https;host=id.example.com, "
            "for=10.0.0.9;proto=http;host=internal"
        ),
    )
    assert seen["HTTP_X_FORWARDED_PROTO"] == "https" and seen["HTTP_X_FORWARDED_HOST"] == "id.example.com"
    assert seen["HTTP_X_FORWARDED_FOR"] == f"6.6.6.6, {CLIENT}, 10.0.0.9"


def test_forwarded_from_anyone_else_counts_for_nothing(behind_proxy):
    behind_proxy("forwarded")
    seen = environ_of(
        CLIENT,
        HTTP_FORWARDED="for=6.6.6.6;proto=https",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_X_FORWARDED_PROTO="https",
    )
    # Forwarded stays, unread, so /metrics lets the request in by no address (ops/metrics.py).
    assert forwarded_keys(seen) == {"HTTP_FORWARDED": "for=6.6.6.6;proto=https", "wsgi.url_scheme": "http"}


@pytest.mark.parametrize("value", ["garbage", 'for="oops', "for=unknown;proto=https", "for=[::1]", ""])
def test_forwarded_naming_nobody_leaves_the_proxy_as_the_client(behind_proxy, value):
    behind_proxy("forwarded")
    seen = environ_of(PROXY, HTTP_FORWARDED=value, HTTP_X_FORWARDED_FOR=CLIENT)
    assert seen.get("HTTP_X_FORWARDED_FOR", "unknown") == "unknown"
    if value:
        assert seen["HTTP_FORWARDED"] == value


def test_metrics_let_nobody_in_by_a_proxy_address_when_it_still_sends_x_forwarded(behind_proxy, settings, db):
    # The proxy runs on an address /metrics lets in (loopback, on the same host, say) and has not
    # been switched to Forwarded: every client's request would look like the proxy's own.
    behind_proxy("forwarded")
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "METRICS_ALLOWED_NETWORKS": [ipaddress.ip_network("10.0.0.0/8")],
    }
    wsgi_environ._warn_x_forwarded.cache_clear()

    def metrics_status(**headers: str) -> int:
        environ = environ_of(
            PROXY, PATH_INFO="/metrics", SERVER_NAME="testserver", SERVER_PORT="80", **headers
        )
        return WSGIHandler()(environ, lambda *args: None).status_code  # type: ignore[arg-type]

    assert metrics_status(HTTP_X_FORWARDED_FOR=CLIENT) == 403
    assert metrics_status(HTTP_X_FORWARDED_FOR=CLIENT, HTTP_FORWARDED=f"for={CLIENT}") == 403
    # The proxy itself, scraping with no forwarding headers, is still let in by its address.
    assert metrics_status() == 200


def test_forwarded_warns_once_of_a_proxy_still_sending_x_forwarded(behind_proxy, caplog):
    behind_proxy("forwarded")
    # As in a worker that has just started.
    wsgi_environ._warn_x_forwarded.cache_clear()
    with caplog.at_level("WARNING", logger="ops.wsgi_environ"):
        for _ in range(3):
            assert "HTTP_X_FORWARDED_FOR" not in environ_of(PROXY, HTTP_X_FORWARDED_FOR=CLIENT)
        # A client's own X-Forwarded-For beside the proxy's Forwarded is no sign of it.
        environ_of(PROXY, HTTP_X_FORWARDED_FOR=CLIENT, HTTP_FORWARDED=f"for={CLIENT}")
    warnings = [record for record in caplog.records if "no Forwarded header" in record.getMessage()]
    assert len(warnings) == 1 and "docs/deployment.md" in warnings[0].getMessage()


def test_x_forwarded_is_read_as_before_with_x_forwarded(behind_proxy):
    behind_proxy("x-forwarded")
    seen = environ_of(
        PROXY, HTTP_X_FORWARDED_FOR=CLIENT, HTTP_X_FORWARDED_PROTO="https", HTTP_FORWARDED="for=1.1.1.1"
    )
    assert forwarded_keys(seen) == {
        "HTTP_X_FORWARDED_FOR": CLIENT,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_FORWARDED": "for=1.1.1.1",
        "wsgi.url_scheme": "https",
    }


def test_forwarded_reaches_the_client_address_django_sees(behind_proxy):
    behind_proxy("forwarded")
    seen = environ_of(
        PROXY, HTTP_FORWARDED=f'for="[2001:db8:1:2::9]:443", for={PROXY}', HTTP_HOST="testserver"
    )
    assert client_ip(WSGIHandler.request_class(seen)) == "2001:db8:1:2::/64"


# --- Granian and X-Forwarded-*: refused -----------------------------------------------------------


def granian_behind_proxy(settings, **porchlight):
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "SERVER": "granian",
        "BEHIND_PROXY": True,
        "PROXY_HEADERS": "x-forwarded",
        "PROXY_DROPS_UNDERSCORE_HEADERS": False,
        **porchlight,
    }


def test_wsgi_application_refuses_to_start_with_x_forwarded_under_granian(settings):
    # A server started without `manage.py serve` loads the application: it must not serve.
    granian_behind_proxy(settings)
    with pytest.raises(ImproperlyConfigured, match="X_Forwarded_For"):
        RequestEnviron(WSGIHandler())


def test_check_refuses_x_forwarded_under_granian(settings):
    granian_behind_proxy(settings)
    with pytest.raises(SystemCheckError) as refused:
        call_command("check", tags=["security"])
    message = str(refused.value)
    assert "ops.E001" in message and "X_Forwarded_For" in message
    assert "PORCHLIGHT_PROXY_HEADERS=forwarded" in message
    assert "PORCHLIGHT_PROXY_DROPS_UNDERSCORE_HEADERS=true" in message


@pytest.mark.parametrize(
    "porchlight",
    [
        {"PROXY_DROPS_UNDERSCORE_HEADERS": True},
        {"PROXY_HEADERS": "forwarded"},
        {"BEHIND_PROXY": False},
        {"SERVER": "gunicorn"},
    ],
)
def test_check_accepts_what_a_client_cannot_forge(settings, porchlight):
    granian_behind_proxy(settings, **porchlight)
    call_command("check", tags=["security"])


def settings_of(tmp_path, **variables: str) -> dict:
    """Return the proxy settings a process started with these PORCHLIGHT_ variables reads."""
    env = clean_environment(tmp_path, **{f"PORCHLIGHT_{name}": value for name, value in variables.items()})
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: settings.PORCHLIGHT[k] for k in ('SERVER', 'PROXY_HEADERS')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_proxy_headers_default_to_forwarded_under_granian_only(tmp_path):
    assert settings_of(tmp_path) == {"SERVER": "gunicorn", "PROXY_HEADERS": "x-forwarded"}
    assert settings_of(tmp_path, SERVER="granian") == {"SERVER": "granian", "PROXY_HEADERS": "forwarded"}
    chosen = settings_of(tmp_path, SERVER="granian", PROXY_HEADERS="X-Forwarded")
    assert chosen["PROXY_HEADERS"] == "x-forwarded"


def test_serve_refuses_x_forwarded_under_granian(tmp_path):
    env = clean_environment(
        tmp_path,
        PORCHLIGHT_SERVER="granian",
        PORCHLIGHT_BEHIND_PROXY="true",
        PORCHLIGHT_PROXY_HEADERS="x-forwarded",
        PORCHLIGHT_BIND="127.0.0.1:1",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert (
        "X_Forwarded_For" in done.stderr and "PORCHLIGHT_PROXY_DROPS_UNDERSCORE_HEADERS=true" in done.stderr
    )
