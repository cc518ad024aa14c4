"""Requests Porchlight sends on a client's behalf, to URIs the client chose.

A registered client names URIs the server itself then requests: ``backchannel_logout_uri``,
``sector_identifier_uri``, ``jwks_uri`` and ``request_uri`` (RFC 9101 §10.4). Sent blindly,
they let whoever may register a client make the server reach its own loopback, the cloud metadata
service at 169.254.169.254 or the private network behind it: server-side request forgery
(CWE-918). Every such request goes through ``request()``, which

- resolves the host once and refuses it unless every address it resolves to is public (the IANA
  special-purpose registries, RFC 6890) or inside PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS;
- connects to the address it checked, so a second DNS answer cannot move it (DNS rebinding);
- follows no redirect, waits a short while and reads at most ``max_bytes`` of the answer.

``uri_refusal()`` applies the same rule without sending anything, for registration. This module
is shared ground: it imports no app.
"""

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_NETWORKS_SETTING = "PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS"
RULE = f"outbound requests go only to public addresses unless {ALLOWED_NETWORKS_SETTING} allows it"

# RFC 6761 §6.3: localhost names are the loopback interface, whatever a DNS server says.
LOOPBACK_NAME_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
# RFC 1122 §3.2.1.3: "this network"; ipaddress calls only 0.0.0.0 itself unspecified.
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
# RFC 6598: shared address space behind carrier-grade NAT; ipaddress calls it neither private
# nor global.
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
# RFC 1918 and RFC 4193 (unique local), plus the deprecated site-local fec0::/10 (RFC 3879),
# which Python 3.11 still calls global.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)
# RFC 6052 §2.1: the NAT64 well-known prefix carries an IPv4 address in its last 32 bits, and a
# NAT64 gateway forwards to that address.
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
# RFC 4291 §2.5.5.1: deprecated "IPv4-compatible" addresses, ::a.b.c.d.
IPV4_COMPATIBLE_NETWORK = ipaddress.ip_network("::/96")


class OutboundRefused(Exception):
    """A request Porchlight will not send; ``reason`` says which rule refused it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OutboundResponse:
    """The answer to an outbound request: its status, headers and at most ``max_bytes`` of body."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    # More than max_bytes came (or would have): content holds only the first max_bytes.
    truncated: bool


def _kind(address: IPAddress) -> str | None:
    """Return what kind of non-public address ``address`` is, or None when it is public."""
    if address.is_unspecified or address in THIS_NETWORK:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in SHARED_NETWORK:
        return "a shared address (RFC 6598)"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a special-purpose address (RFC 6890)"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, bool] | None:
    """Return how an IPv6 address carries an IPv4 one, that address, and whether packets go to it."""
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return "the IPv4-mapped form of", address.ipv4_mapped, True
    if address in NAT64_NETWORK:
        return "the NAT64 form of", low, True
    if address.sixtofour is not None:
        return "a 6to4 address carrying", address.sixtofour, False
    if address.teredo is not None:
        return "a Teredo address carrying", address.teredo[1], False
    if address in IPV4_COMPATIBLE_NETWORK and int(address) > 1:
        return "the IPv4-compatible form of", low, False
    return None


def _refusal(
    address: IPAddress, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> tuple[str, str] | None:
    """Return how to show ``address`` and what kind it is, if outbound requests may not reach it."""
    if any(address in network for network in allowed):
        return None
    if address.version == 6 and (embedded := _embedded_ipv4(address)):
        form, ipv4, passes_through = embedded
        inner = _refusal(ipv4, allowed)
        if inner is not None:
            return f"{address} ({form} {ipv4})", inner[1]
        if passes_through:
            # The packets go to the IPv4 address, which is allowed.
            return None
    kind = _kind(address)
    return (str(address), kind) if kind else None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(host: str, port: int) -> tuple[list[IPAddress], bool]:
    """Resolve ``host`` once; return its addresses and whether it was an address literal."""
    literal = _literal(host)
    if literal is not None:
        return [literal], True
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return list(LOOPBACK_NAME_ADDRESSES), False
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        # Not a refusal: DNS may be down for a moment. The caller retries as for any network error.
        raise httpx.ConnectError(f"{host} does not resolve ({error})") from error
    addresses = [
        ipaddress.ip_address(sockaddr[0])
        for family, _, _, _, sockaddr in found
        if family in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise httpx.ConnectError(f"{host} has no IPv4 or IPv6 address")
    return list(dict.fromkeys(addresses)), False


def _target(uri: str) -> tuple[httpx.URL, str, list[IPAddress]]:
    """Parse and resolve ``uri``; return its URL, host and checked addresses, or raise OutboundRefused."""
    try:
        url = httpx.URL(uri)
    except httpx.InvalidURL as error:
        raise OutboundRefused(f"{uri[:100]!r} is not a valid URI") from error
    if url.scheme not in ("http", "https") or not url.raw_host:
        raise OutboundRefused(f"{uri[:100]!r} is not an absolute http:// or https:// URI")
    host = url.raw_host.decode("ascii")
    addresses, literal = _addresses(host, url.port or (443 if url.scheme == "https" else 80))
    allowed = settings.PORCHLIGHT["OUTBOUND_ALLOWED_NETWORKS"]
    # Every address, not only the first: the connection may go to any of them.
    for address in addresses:
        refused = _refusal(address, allowed)
        if refused is not None:
            shown, kind = refused
            said = f"{shown} is {kind}" if literal else f"{host} resolves to {shown}, {kind}"
            raise OutboundRefused(f"{said}; {RULE}")
    return url, host, addresses


def uri_refusal(uri: str) -> str | None:
    """Return why requests to ``uri`` would be refused now, or None; send nothing.

    A name that does not resolve now is not refused: its DNS may not be set up yet, and
    ``request()`` resolves and checks it again every time.
    """
    try:
        _target(uri)
    except OutboundRefused as refused:
        return refused.reason
    except httpx.ConnectError:
        return None
    return None


def _ssl_context() -> ssl.SSLContext:
    # certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set (apps on a private network with
    # their own certificate authority); certificates and host names are always verified.
    return httpx.create_ssl_context(verify=True, trust_env=True)


def request(
    method: str,
    uri: str,
    *,
    timeout: float,
    max_bytes: int,
    content: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> OutboundResponse:
    """Send one request to ``uri`` if the rule allows its every address; raise OutboundRefused if not.

    Network failures raise ``httpx.HTTPError`` (a name that does not resolve: ``httpx.ConnectError``).
    ``timeout`` bounds connecting and each read; the whole body must arrive within ``timeout`` of
    the headers. Redirects are returned, never followed.
    """
    url, host, addresses = _target(uri)
    error: httpx.ConnectError | None = None
    for address in addresses:
        try:
            return _send(method, url, host, address, timeout, max_bytes, content, headers or {})
        except httpx.ConnectError as failed:
            # Refused or unreachable: the next address, each of them checked above.
            error = failed
    assert error is not None
    raise error


def _send(
    method: str,
    url: httpx.URL,
    host: str,
    address: IPAddress,
    timeout: float,
    max_bytes: int,
    content: bytes | str | None,
    headers: dict[str, str],
) -> OutboundResponse:
    # Pinning: the request URL names the checked address, so nothing below it has a host name
    # left to resolve (no second lookup a rebinding DNS server could answer differently). The
    # Host header and, for https, the TLS server name (SNI, and the name the certificate is
    # verified against) stay the original host's, through httpx's documented "sni_hostname"
    # request extension. This fails closed: were the extension ignored, the certificate would be
    # checked against the bare address and the handshake would fail. (A custom httpcore network
    # backend would do the same, but httpx offers no public way to install one.)
    pinned = url.copy_with(host=str(address))
    extensions = {}
    if url.scheme == "https" and _literal(host) is None:
        extensions["sni_hostname"] = host.rstrip(".")
    headers = {
        **headers,
        "Host": url.netloc.decode("ascii"),
        # The size cap counts bytes as sent: no decompression of what a server chose to send.
        "Accept-Encoding": "identity",
    }
    transport = httpx.HTTPTransport(verify=_ssl_context(), retries=0)
    # trust_env=False: no proxy from the environment (it would resolve the name itself), no .netrc.
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False) as http:
        outgoing = http.build_request(method, pinned, content=content, headers=headers, extensions=extensions)
        response = http.send(outgoing, stream=True)
        try:
            deadline = time.monotonic() + timeout
            body, truncated = bytearray(), False
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > max_bytes:
                    truncated = True
                    break
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"the answer took longer than {timeout} s", request=outgoing)
        finally:
            response.close()
    return OutboundResponse(response.status_code, response.headers, bytes(body[:max_bytes]), truncated)
