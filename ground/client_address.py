"""The address a request came from: the direct peer, or behind Porchlight's own proxies the client.

Throttling counts attempts by it, the audit log and sign-in sessions record it (``client_ip``: the
address, or an IPv6 client's /64), and ``/metrics`` judges its allow-list on it, so every one of
them sees the same client for the same request. Like the rest of ``ground``, this module reads
only settings and imports no app.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(value: str) -> IPAddress | None:
    """Return ``value`` as an IP address (an IPv4-mapped IPv6 one as IPv4), or None."""
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _trusted_proxy(ip: IPAddress) -> bool:
    return any(ip in network for network in settings.PORCHLIGHT["TRUSTED_PROXIES"])


def walk(remote: IPAddress, hops: list[str]) -> tuple[IPAddress, int | None]:
    """Return the client behind trusted proxy ``remote`` and the index of the hop naming it.

    ``hops`` are the addresses each proxy appended, left to right (``X-Forwarded-For``, or the
    ``for`` of each ``Forwarded`` element). Each proxy appends the address it received the
    request from, so only the right-most entries are trustworthy: walk from the right past our
    own proxies (TRUSTED_PROXIES); the first other address is the client. Anything left of it
    may be forged by the client. A hop that is no address (``unknown``, garbage) stops the walk:
    the client is then the last proxy reached. The index is that of the left-most hop a trusted
    proxy wrote (where the walk stopped), None when there are none.
    """
    client, index = remote, None
    for position in range(len(hops) - 1, -1, -1):
        index = position
        ip = parse_address(hops[position])
        if ip is None:
            break
        client = ip
        if not _trusted_proxy(client):
            break
    return client, index


def client_address(request: HttpRequest) -> IPAddress | None:
    """Return the client's address: REMOTE_ADDR, or behind our proxies the right-most untrusted hop."""
    remote = parse_address(request.META.get("REMOTE_ADDR", ""))
    # X-Forwarded-For is only as good as whoever sent it: a client that reaches us directly
    # (past the proxy) would otherwise name any address it likes. With PORCHLIGHT_PROXY_HEADERS
    # =forwarded, ops/wsgi_environ.py has put a trusted proxy's RFC 7239 Forwarded here.
    if remote is None or not settings.PORCHLIGHT["BEHIND_PROXY"] or not _trusted_proxy(remote):
        return remote
    return walk(remote, request.META.get("HTTP_X_FORWARDED_FOR", "").split(","))[0]


def ip_key(address: str) -> str | None:
    """Return the key attempts from ``address`` are counted under: the IP, or an IPv6 /64."""
    ip = parse_address(address)
    return None if ip is None else _key(ip)


def _key(ip: IPAddress) -> str:
    if ip.version == 6:
        # One IPv6 subscriber usually holds a whole /64; counting single addresses would let
        # it make 2**64 times the allowed attempts.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_ip(request: HttpRequest) -> str | None:
    """Return the key the client is counted under: its address (see ``client_address``), or its /64."""
    address = client_address(request)
    return None if address is None else _key(address)
