"""PORCHLIGHT_LDAP_* variables: directory sign-in is off without a URI and refuses a broken setup."""

import json

from tests.environment import load_settings

READ = "settings.AUTHENTICATION_BACKENDS, settings.PORCHLIGHT_LDAP"


def test_ldap_settings_off_without_a_uri(tmp_path):
    result = load_settings(tmp_path, READ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['django.contrib.auth.backends.ModelBackend'] None"


def test_ldap_settings_read_the_variables(tmp_path):
    password = tmp_path / "bind-password"
    password.write_text("service-secret\n")
    result = load_settings(
        tmp_path,
        "settings.AUTHENTICATION_BACKENDS[-1], __import__('json').dumps(settings.PORCHLIGHT_LDAP)",
        PORCHLIGHT_LDAP_URI="ldaps://dc1.corp.example.com ldaps://dc2.corp.example.com",
        PORCHLIGHT_LDAP_BIND_DN="CN=svc,DC=corp,DC=example,DC=com",
        PORCHLIGHT_LDAP_BIND_PASSWORD_FILE=str(password),
        PORCHLIGHT_LDAP_USER_SEARCH_BASE="DC=corp,DC=example,DC=com",
        PORCHLIGHT_LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
        PORCHLIGHT_LDAP_ATTR_MAP="first_name=givenName, phone_number=telephoneNumber",
        PORCHLIGHT_LDAP_GROUP_SEARCH_BASE="DC=corp,DC=example,DC=com",
        PORCHLIGHT_LDAP_GROUP_TYPE="activeDirectory",
        PORCHLIGHT_LDAP_GROUP_MAP='{"CN=Admins,DC=corp,DC=example,DC=com": "Administrators"}',
    )
    assert result.returncode == 0, result.stderr
    backend, config = result.stdout.strip().split(" ", 1)
    assert backend == "directory.backends.DirectoryBackend"
    config = json.loads(config)
    assert config["BIND_PASSWORD"] == "service-secret"
    assert config["ATTR_MAP"] == {"first_name": "givenName", "phone_number": "telephoneNumber"}
    assert config["GROUP_MAP"] == {"CN=Admins,DC=corp,DC=example,DC=com": "Administrators"}
    assert (config["TIMEOUT"], config["SYNC_INTERVAL"], config["START_TLS"]) == (5, 3600, False)


def test_ldap_settings_refuse_a_broken_setup(tmp_path):
    base = {
        "PORCHLIGHT_LDAP_URI": "ldap://127.0.0.1:1",
        "PORCHLIGHT_LDAP_USER_SEARCH_BASE": "dc=example,dc=org",
    }
    cases = {
        "PORCHLIGHT_LDAP_URI": {"PORCHLIGHT_LDAP_URI": "https://ldap.example.org"},
        "exactly one of": {"PORCHLIGHT_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=example,dc=org"},
        "PORCHLIGHT_LDAP_GROUP_MAP must be a JSON object": {"PORCHLIGHT_LDAP_GROUP_MAP": "{not json"},
        "need PORCHLIGHT_LDAP_GROUP_SEARCH_BASE": {"PORCHLIGHT_LDAP_REQUIRE_GROUP": "cn=x,dc=example,dc=org"},
        "'is_superuser' is not one of": {"PORCHLIGHT_LDAP_ATTR_MAP": "is_superuser=title"},
        "PORCHLIGHT_LDAP_GROUP_TYPE": {"PORCHLIGHT_LDAP_GROUP_TYPE": "groupsOfStuff"},
    }
    for message, variables in cases.items():
        result = load_settings(tmp_path, READ, **{**base, **variables})
        assert result.returncode != 0, message
        assert message in result.stderr, result.stderr[-500:]
