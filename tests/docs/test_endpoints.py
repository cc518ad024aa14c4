"""docs/endpoints.md lists every address Porchlight answers, and each one it lists is real."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

from tests.docs.pages import code_spans, tables_with

PAGE = "endpoints.md"
PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


def documented_paths() -> set[str]:
    """Return every path (a code span starting with ``/``) in the page's ``path`` columns."""
    return {
        span
        for table in tables_with(PAGE, "path")
        for cell in table.column("path")
        for span in code_spans(cell)
        if span.startswith("/")
    }


def routes(patterns=None, prefix: str = "") -> set[str]:
    """Return every URL pattern outside the admin as a path, ``<int:pk>`` written ``<pk>``."""
    found = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.app_name != "admin":
                found |= routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.add("/" + PLACEHOLDER.sub(r"<\1>", route))
    return found


def test_endpoints_page_paths_resolve():
    paths = documented_paths()
    assert {"/o/token/", "/.well-known/openid-configuration", "/healthz"} <= paths
    for path in paths:
        try:
            # A placeholder stands for any value; "1" fits both the str and the int converter.
            resolve(PLACEHOLDER.sub("1", path))
        except Resolver404:
            pytest.fail(f"docs/{PAGE} lists {path}, which no URL pattern matches")


def test_endpoints_page_lists_every_route():
    missing = sorted(routes() - documented_paths())
    assert not missing, f"docs/{PAGE} leaves out {missing}"


@pytest.mark.django_db
def test_endpoints_page_lists_every_discovery_endpoint(client, settings):
    document = client.get("/.well-known/openid-configuration").json()
    issuer = document["issuer"]
    addresses = {
        key: value
        for key, value in document.items()
        if isinstance(value, str) and value.startswith(issuer + "/") and key != "issuer"
    }
    assert {"token_endpoint", "jwks_uri", "device_authorization_endpoint"} <= set(addresses)
    paths = documented_paths()
    for key, url in addresses.items():
        assert urlsplit(url).path in paths, f"discovery's {key} ({url}) is not in docs/{PAGE}"
