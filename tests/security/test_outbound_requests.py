"""Server-side request forgery through client metadata: a client's back-channel logout URI must
not make the server POST to its own loopback, the cloud metadata service or a private network.

Each test plays the attack as a registering client (or staff, or a DNS server it controls) would,
and checks what the client or operator sees: the registration error, the admin's and the
command's refusal, the delivery's state and error, the audit log. Nothing here allows loopback
unless a test says so (the suite's default, tests/conftest.py, allows it for the receivers). Host
names resolve through a DNS this module controls (``dns``), in the real code path.
"""

import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from oidc_provider.models import Client, LogoutDelivery
from tests import oauth
from tests.admin_forms import add_client_in_admin
from tests.conftest import RegisteredClient, authorize, exchange
from tests.environment import load_settings
from tests.logout_receiver import LogoutReceiver, free_port
from tests.sector_server import make_certificates

RULE = "outbound requests go only to public addresses unless PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS allows it"
# Without offline_access: the tokens are bound to the sign-in session (OIDC Core 1.0 §11).
SCOPE = "openid email"
# A public address (what an attacker's name answers while it is being registered).
PUBLIC = "93.184.215.14"
TLS_NAMES = ("rebind.test", "pin.test", "sni.test")


class FakeDNS:
    """Answers for host names: each lookup takes the next answer, the last one repeats."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: Counter[str] = Counter()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name in self.answers:
            self.lookups[name] += 1
            queue = self.answers[name]
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, port or 0, 0, 0) if ":" in address else (address, port or 0),
                )
                for address in addresses
            ]
        if name == "localhost":
            return self.real(host, port, family, type, proto, flags)
        # Address literals (also 2130706433 and 127.1, as inet_aton reads them); no other name.
        return self.real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture(autouse=True)
def _public_addresses_only(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "OUTBOUND_ALLOWED_NETWORKS": []}


def allow(settings, *networks: str) -> None:
    settings.PORCHLIGHT = {
        **settings.PORCHLIGHT,
        "OUTBOUND_ALLOWED_NETWORKS": [ip_network(network) for network in networks],
    }


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, Path]:
    """A test certificate authority and a server certificate it signed for TLS_NAMES."""
    return make_certificates(tmp_path_factory.mktemp("tls"), names=TLS_NAMES)


class Endpoint:
    """An app's endpoint on 127.0.0.1 (https with a certificate for TLS_NAMES, or plain http).

    It records every request it gets (and, with TLS, the server name the client asked for) and
    answers ``status`` with ``headers`` and ``body``, or an endless body with ``endless``.
    """

    def __init__(self, certificates: dict[str, Path] | None = None) -> None:
        self.port = free_port()
        self.status, self.body, self.endless = 200, b"", False
        self.headers: dict[str, str] = {}
        self.requests: list[dict] = []
        self.server_names: list[str] = []
        self.context = None
        if certificates is not None:
            self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.context.load_cert_chain(certificates["cert"], certificates["key"])
            self.context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)

    def url(self, host: str = "127.0.0.1", path: str = "/backchannel-logout") -> str:
        return f"{'https' if self.context else 'http'}://{host}:{self.port}{path}"

    def start(self) -> "Endpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                endpoint.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "host": self.headers.get("Host"),
                        "form": parse_qs(self.rfile.read(length).decode()),
                    }
                )
                self.send_response(endpoint.status)
                for name, value in endpoint.headers.items():
                    self.send_header(name, value)
                if endpoint.endless:
                    self.end_headers()
                    try:
                        for _ in range(10_000):  # 640 MB at most, should the client never hang up
                            self.wfile.write(b"x" * 65536)
                    except OSError:
                        pass
                    return
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request, client_address):
                # The TLS handshake in the request's own thread, so a failed one stops nothing else.
                if endpoint.context is not None:
                    request = endpoint.context.wrap_socket(request, server_side=True)
                super().finish_request(request, client_address)

            def handle_error(self, request, client_address):
                pass

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_endpoint(certificates, monkeypatch):
    """An https endpoint on loopback whose certificate the provider trusts (SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
    running = Endpoint(certificates).start()
    yield running
    running.stop()


@pytest.fixture
def http_endpoint():
    running = Endpoint().start()
    yield running
    running.stop()


def register(http, token: str, **metadata):
    return oauth.register(
        http, {"redirect_uris": ["https://rp.example.com/callback"], **metadata}, token=token
    )


def run_worker() -> None:
    """Run the task worker until no task is due (the worker `make run` starts)."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())


# --- Registration: dynamic, admin, createclient ----------------------------------------------

ATTACKS = [
    ("http://127.0.0.1:8411/internal/shutdown", "127.0.0.1 is a loopback address"),
    ("http://[::1]:8411/internal/shutdown", "::1 is a loopback address"),
    ("http://localhost:8000/o/token/", "localhost resolves to 127.0.0.1, a loopback address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://10.0.0.1:6379/", "10.0.0.1 is a private address"),
    ("https://192.168.1.1/admin", "192.168.1.1 is a private address"),
    ("https://100.64.0.1/", "100.64.0.1 is a shared address (RFC 6598)"),
    ("https://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ("https://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("https://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("https://[fd00::1]/", "fd00::1 is a private address"),
    ("https://[fe80::1]/", "fe80::1 is a link-local address"),
    # Other spellings of 127.0.0.1 that the system's resolver reads as an address.
    ("https://2130706433/bc", "2130706433 resolves to 127.0.0.1, a loopback address"),
    ("https://127.1/bc", "127.1 resolves to 127.0.0.1, a loopback address"),
]


@pytest.mark.parametrize(("uri", "reason"), ATTACKS)
def test_registration_refuses_backchannel_uri_to_internal_address(
    client, initial_token, signing_keys, uri, reason
):
    response = register(client, initial_token, backchannel_logout_uri=uri)
    assert response.status_code == 400
    body = response.json()
    # RFC 7591 §3.2.2
    assert body["error"] == "invalid_client_metadata"
    assert body["error_description"] == f"backchannel_logout_uri: {reason}; {RULE}."
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://[::ffff:127.0.0.1]/bc", "(the IPv4-mapped form of 127.0.0.1) is a loopback address"),
        (
            "https://[::ffff:169.254.169.254]/latest/meta-data/",
            "(the IPv4-mapped form of 169.254.169.254) is a link-local address",
        ),
        ("https://[::ffff:10.0.0.1]:6379/", "(the IPv4-mapped form of 10.0.0.1) is a private address"),
        ("https://[64:ff9b::127.0.0.1]/bc", "(the NAT64 form of 127.0.0.1) is a loopback address"),
        ("https://[2002:a9fe:a9fe::1]/", "(a 6to4 address carrying 169.254.169.254) is a link-local address"),
        ("https://[::127.0.0.1]/bc", "(the IPv4-compatible form of 127.0.0.1) is a loopback address"),
        (
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "(a Teredo address carrying 127.0.0.1) is a loopback address",
        ),
    ],
)
def test_registration_refuses_ipv4_internal_address_inside_ipv6(
    client, initial_token, signing_keys, uri, reason
):
    response = register(client, initial_token, backchannel_logout_uri=uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert reason in response.json()["error_description"]
    assert RULE in response.json()["error_description"]


def test_registration_refuses_name_with_any_internal_address(client, initial_token, signing_keys, dns):
    # Every address counts: a client may connect to any of them, not only the first.
    dns.answers["intranet.test"] = [[PUBLIC, "10.1.2.3"]]
    response = register(client, initial_token, backchannel_logout_uri="https://intranet.test/bc")
    assert response.status_code == 400
    reason = "intranet.test resolves to 10.1.2.3, a private address"
    assert response.json() == {
        "error": "invalid_client_metadata",
        "error_description": f"backchannel_logout_uri: {reason}; {RULE}.",
    }


def test_registration_takes_backchannel_uri_of_public_name(client, initial_token, signing_keys, dns):
    dns.answers["rp.test"] = [[PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]]
    response = register(client, initial_token, backchannel_logout_uri="https://rp.test/bc")
    assert response.status_code == 201, response.content
    assert response.json()["backchannel_logout_uri"] == "https://rp.test/bc"


def test_registration_takes_name_that_does_not_resolve_yet(client, initial_token, signing_keys):
    # Its DNS may not be set up yet; each delivery resolves and checks it again.
    response = register(client, initial_token, backchannel_logout_uri="https://not-yet.test/bc")
    assert response.status_code == 201, response.content


def test_registration_takes_internal_address_in_allowed_network(
    client, initial_token, signing_keys, settings
):
    allow(settings, "10.0.0.0/8")
    response = register(client, initial_token, backchannel_logout_uri="https://10.0.0.1:6379/")
    assert response.status_code == 201, response.content


def test_registration_takes_frontchannel_uri_on_loopback(client, initial_token, signing_keys):
    # The browser loads the front-channel URI, not the server: no outbound request, no rule.
    response = register(client, initial_token, frontchannel_logout_uri="http://127.0.0.1:8411/fc")
    assert response.status_code == 201, response.content


def test_admin_refuses_backchannel_uri_to_internal_address(staff, signing_keys):
    response = add_client_in_admin(
        staff, name="Metadata reader", backchannel_logout_uri="https://169.254.169.254/latest/meta-data/"
    )
    page = response.content.decode()
    assert f"169.254.169.254 is a link-local address; {RULE}." in page
    assert not Client.objects.filter(name="Metadata reader").exists()


def test_createclient_refuses_backchannel_uri_to_internal_address(db, signing_keys):
    with pytest.raises(CommandError, match=r"127\.0\.0\.1 is a loopback address; outbound requests go only"):
        call_command(
            "createclient",
            "Internal poker",
            "--redirect-uri",
            "https://rp.example.com/cb",
            "--backchannel-logout-uri",
            "http://127.0.0.1:8411/internal/shutdown",
            stdout=StringIO(),
        )
    assert not Client.objects.filter(name="Internal poker").exists()


# --- Delivery: the check at send time ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_backchannel_delivery_to_name_now_resolving_to_loopback_fails_at_once(
    make_client, signing_keys, logged_in, client, staff, dns, tls_endpoint
):
    # Registered while the name answered a public address; by the time of the sign-out the
    # attacker's DNS answers 127.0.0.1, where an internal service (the endpoint) listens.
    dns.answers["rebind.test"] = [[PUBLIC]]
    app = make_client(
        name="Rebinding app", logout={"backchannel_logout_uri": tls_endpoint.url("rebind.test")}
    )
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    dns.answers["rebind.test"] = [["127.0.0.1"]]
    logged_in.post("/accounts/logout/")
    run_worker()

    reason = f"rebind.test resolves to 127.0.0.1, a loopback address; {RULE}"
    delivery = LogoutDelivery.objects.get()
    # Failed after one attempt, not retried PORCHLIGHT_LOGOUT_ATTEMPTS times.
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 1, reason)
    assert tls_endpoint.requests == [] and tls_endpoint.server_names == []
    page = staff.get("/admin/oidc_provider/logoutdelivery/?state__exact=failed").content.decode()
    assert "Rebinding app" in page and reason in page
    (event,) = AuditEvent.objects.filter(action="logout_delivery.failed")
    assert event.detail["error"] == reason and event.detail["attempts"] == 1
    run_worker()
    assert LogoutDelivery.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_backchannel_delivery_to_name_that_does_not_resolve_is_retried(
    make_client, signing_keys, logged_in, client
):
    # No answer is not a refusal: DNS may be down for a moment.
    app = make_client(name="Unresolved app", logout={"backchannel_logout_uri": "https://not-yet.test/bc"})
    exchange(client, app, authorize(logged_in, app, scope=SCOPE))
    logged_in.post("/accounts/logout/")
    run_worker()
    delivery = LogoutDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("ConnectError: not-yet.test does not resolve")


@pytest.mark.django_db(transaction=True)
def test_backchannel_delivery_reaches_loopback_receiver_in_allowed_network(
    client, initial_token, signing_keys, logged_in, settings
):
    allow(settings, "127.0.0.0/8")
    receiver = LogoutReceiver().start()
    try:
        body = register(client, initial_token, backchannel_logout_uri=receiver.url).json()
        app = RegisteredClient(
            body["client_id"], body["client_secret"], body["redirect_uris"][0], Client.objects.get()
        )
        exchange(client, app, authorize(logged_in, app, scope=SCOPE))
        logged_in.post("/accounts/logout/")
        run_worker()
    finally:
        receiver.stop()
    assert len(receiver.tokens) == 1
    assert LogoutDelivery.objects.get().state == "delivered"


# --- The outbound client itself ------------------------------------------------------------------


def test_outbound_request_connects_to_the_address_it_checked(settings, dns, tls_endpoint):
    from ground import outbound

    # The name first answers an allowed address where nothing listens, then 127.0.0.1, where the
    # endpoint does. A client that checked one answer and connected by name would reach it.
    allow(settings, "127.0.0.2/32")
    dns.answers["pin.test"] = [["127.0.0.2"], ["127.0.0.1"]]
    with pytest.raises(httpx.ConnectError):
        outbound.request("POST", tls_endpoint.url("pin.test"), timeout=2, max_bytes=1024, content=b"x=1")
    assert tls_endpoint.requests == [] and tls_endpoint.server_names == []
    assert dns.lookups["pin.test"] == 1


def test_outbound_request_sends_host_and_server_name_and_verifies_certificate(settings, dns, tls_endpoint):
    from ground import outbound

    allow(settings, "127.0.0.0/8")
    dns.answers["sni.test"] = [["127.0.0.1"]]
    response = outbound.request("GET", tls_endpoint.url("sni.test", "/jwks"), timeout=2, max_bytes=1024)
    assert response.status_code == 200
    assert tls_endpoint.server_names == ["sni.test"]
    assert tls_endpoint.requests[0]["host"] == f"sni.test:{tls_endpoint.port}"
    assert tls_endpoint.requests[0]["path"] == "/jwks"
    # The certificate is checked against the name asked for, not the address connected to.
    dns.answers["impostor.test"] = [["127.0.0.1"]]
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        outbound.request("GET", tls_endpoint.url("impostor.test"), timeout=2, max_bytes=1024)
    assert len(tls_endpoint.requests) == 1


def test_outbound_request_reads_at_most_max_bytes(settings, http_endpoint):
    from ground import outbound

    allow(settings, "127.0.0.0/8")
    http_endpoint.endless = True
    started = time.monotonic()
    response = outbound.request("GET", http_endpoint.url(), timeout=2, max_bytes=16 * 1024)
    assert response.status_code == 200
    assert response.truncated and len(response.content) == 16 * 1024
    assert time.monotonic() - started < 2


def test_outbound_request_follows_no_redirect(settings, http_endpoint):
    from ground import outbound

    allow(settings, "127.0.0.0/8")
    inner = Endpoint().start()
    try:
        http_endpoint.status, http_endpoint.headers = 307, {"Location": inner.url(path="/internal")}
        response = outbound.request("POST", http_endpoint.url(), timeout=2, max_bytes=1024, content=b"x=1")
    finally:
        inner.stop()
    assert response.status_code == 307
    assert inner.requests == []


def test_outbound_request_refuses_internal_address_with_reason(dns):
    from ground import outbound

    dns.answers["metadata.test"] = [["169.254.169.254"]]
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.request("GET", "http://metadata.test/latest/meta-data/", timeout=2, max_bytes=1024)
    assert refused.value.reason == f"metadata.test resolves to 169.254.169.254, a link-local address; {RULE}"
    assert outbound.uri_refusal("http://metadata.test/latest/meta-data/") == refused.value.reason


# --- Configuration ---------------------------------------------------------------------------------


ALLOWED_NETWORKS = "[str(n) for n in settings.PORCHLIGHT['OUTBOUND_ALLOWED_NETWORKS']]"


def test_settings_outbound_allowed_networks_default_empty_and_parse(tmp_path):
    assert load_settings(tmp_path, ALLOWED_NETWORKS).stdout.strip() == "[]"
    result = load_settings(
        tmp_path, ALLOWED_NETWORKS, PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS="10.20.0.0/16, fd00::/8"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['10.20.0.0/16', 'fd00::/8']"


def test_settings_refuse_malformed_outbound_allowed_networks(tmp_path):
    result = load_settings(
        tmp_path, ALLOWED_NETWORKS, PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS="10.0.0.0/8,intranet"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS" in result.stderr
