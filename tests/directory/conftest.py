"""A real slapd with the fixture directory (tests/slapd.py), and Porchlight configured to use it."""

import pytest

from tests.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, slapd_server

BACKENDS = ["django.contrib.auth.backends.ModelBackend", "directory.backends.DirectoryBackend"]


def ldap_config(uri: str, **changes) -> dict:
    """Return ``settings.PORCHLIGHT_LDAP`` for the fixture directory at ``uri`` (as the variables make it)."""
    return {
        "URI": uri,
        "BIND_DN": SERVICE_DN,
        "BIND_PASSWORD": SERVICE_PASSWORD,
        "USER_SEARCH_BASE": PEOPLE,
        "USER_FILTER": "(uid=%(user)s)",
        "USER_DN_TEMPLATE": "",
        "START_TLS": False,
        "CA_FILE": "",
        "ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "TRUST_EMAIL": False,
        "GROUP_SEARCH_BASE": GROUPS,
        "GROUP_TYPE": "groupOfNames",
        "GROUP_MAP": {f"cn=engineers,{GROUPS}": "Engineers", f"cn=admins,{GROUPS}": "Admins"},
        "REQUIRE_GROUP": f"cn=everyone,{GROUPS}",
        "DENY_GROUP": "",
        "TIMEOUT": 3,
        "SYNC_INTERVAL": 3600,
        **changes,
    }


@pytest.fixture
def directory(tmp_path, settings, db):
    """Start slapd; point directory sign-in at it; yield the ``Directory``."""
    with slapd_server(tmp_path) as running:
        settings.PORCHLIGHT_LDAP = ldap_config(running.uri)
        settings.AUTHENTICATION_BACKENDS = BACKENDS
        yield running
