"""RFC 7239's Forwarded header as proxies write it: the RFC's own examples, and what is malformed."""

import pytest

from ground.forwarded import MALFORMED, Element, node_address, parse_forwarded


@pytest.mark.parametrize(
    ("value", "elements"),
    [
        # RFC 7239 §4's examples.
        ('for="_gazonk"', [Element()]),
        ('For="[2001:db8:cafe::17]:4711"', [Element(client="2001:db8:cafe::17")]),
        ("for=192.0.2.60;proto=http;by=203.0.113.43", [Element(client="192.0.2.60", proto="http")]),
        (
            "for=192.0.2.43, for=198.51.100.17",
            [Element(client="192.0.2.43"), Element(client="198.51.100.17")],
        ),
        # RFC 7239 §7.1: several headers are one list, as servers join them.
        (
            'for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown',
            [Element(client="192.0.2.43"), Element(client="2001:db8:cafe::17"), Element()],
        ),
        # RFC 7239 §7.4's example, with host (§5.3).
        (
            "for=192.0.2.43,for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com",
            [Element(client="192.0.2.43"), Element(client="198.51.100.17", proto="http", host="example.com")],
        ),
        # RFC 7239 §6: ports (numeric or obfuscated) are left off.
        ('for="192.0.2.43:47011"', [Element(client="192.0.2.43")]),
        ('for="[2001:db8:cafe::17]:_port"', [Element(client="2001:db8:cafe::17")]),
        ('for="_hidden", for="_SEVKISEK"', [Element(), Element()]),
        # As the nginx line in docs/deployment.md writes it: quoted, proto and a quoted host.
        (
            'for="203.0.113.9";proto=https;host="id.example.com"',
            [Element("203.0.113.9", "https", "id.example.com")],
        ),
        (
            'for="[2001:db8::9]";proto=HTTPS;host="id.example.com:8443"',
            [Element("2001:db8::9", "https", "id.example.com:8443")],
        ),
        # Names are case-insensitive (§4); empty pairs and list elements do not count.
        ("FOR=192.0.2.1;PROTO=https;", [Element(client="192.0.2.1", proto="https")]),
        ("for=192.0.2.1, , for=192.0.2.2", [Element(client="192.0.2.1"), Element(client="192.0.2.2")]),
        # A quoted-pair in a value (RFC 7230 §3.2.6).
        (r'for="\1\9\2.0.2.7"', [Element(client="192.0.2.7")]),
        ("", []),
    ],
)
def test_forwarded_reads_each_element(value, elements):
    assert parse_forwarded(value) == elements


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "for",
        "for=",
        "=192.0.2.1",
        "for=192.0.2.1 proto=https",
        # §6: an IPv6 node is a quoted-string; a port needs quotes too.
        "for=[2001:db8::1]",
        "for=192.0.2.43:47011",
        # §4: a parameter at most once per element.
        "for=192.0.2.1;for=192.0.2.2",
        'for="192.0.2.1',
        "for=192.0.2.1;\x00=x",
    ],
)
def test_forwarded_reads_a_malformed_element_as_naming_nobody(value):
    assert parse_forwarded(value) == [MALFORMED]


def test_forwarded_keeps_good_elements_beside_a_malformed_one():
    # What a client wrote on the left cannot spoil what the proxy appended on the right.
    assert parse_forwarded("garbage;;=, for=198.51.100.17;proto=https") == [
        MALFORMED,
        Element(client="198.51.100.17", proto="https"),
    ]
    # A quote left open swallows the rest: the proxy's element is lost, so nobody is named.
    assert parse_forwarded('for="oops, for=198.51.100.17') == [MALFORMED]
    # A comma inside quotes does not split an element.
    assert parse_forwarded('for="_a,b";proto=https, for=192.0.2.9') == [
        Element(proto="https"),
        Element(client="192.0.2.9"),
    ]


@pytest.mark.parametrize(
    ("value", "element"),
    [
        # Only http and https mean anything here; a host must be a Host header's value.
        ("for=192.0.2.1;proto=gopher", Element(client="192.0.2.1")),
        ('for=192.0.2.1;host="a b"', Element(client="192.0.2.1")),
        ('for=192.0.2.1;host="evil.example, id.example.com"', Element(client="192.0.2.1")),
        ("for=192.0.2.1;by=10.0.0.1;secret=x", Element(client="192.0.2.1")),
    ],
)
def test_forwarded_ignores_values_it_cannot_use(value, element):
    assert parse_forwarded(value) == [element]


@pytest.mark.parametrize(
    ("node", "address"),
    [
        ("192.0.2.43", "192.0.2.43"),
        ("[2001:db8:cafe::17]", "2001:db8:cafe::17"),
        ("2001:db8:cafe::17", "2001:db8:cafe::17"),
        ("[::ffff:192.0.2.1]:80", "192.0.2.1"),
        ("unknown", ""),
        ("_hidden", ""),
        ("[192.0.2.1", ""),
        ("192.0.2.1:99999999", ""),
        (" 192.0.2.1", ""),
    ],
)
def test_forwarded_node_address(node, address):
    assert node_address(node) == address
