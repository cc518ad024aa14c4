"""manage.py createclient registers a working client non-interactively."""

import json
from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError

from oidc_provider.models import Client


def run(*args) -> str:
    out = StringIO()
    call_command("createclient", *args, stdout=out)
    return out.getvalue()


def test_createclient_json_prints_id_and_secret_once(db):
    data = json.loads(run("Shop", "--redirect-uri", "https://shop.example.com/cb", "--json"))
    assert set(data) == {"client_id", "client_secret"}
    client = Client.objects.get(client_id=data["client_id"])
    assert client.client_type == Client.CLIENT_CONFIDENTIAL
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.skip_authorization is False
    assert client.algorithm == "RS256"
    # Only a hash is stored, and a cheap one made for high-entropy secrets.
    assert client.client_secret.startswith("client_secret_sha256$")
    assert data["client_secret"] not in client.client_secret
    assert check_password(data["client_secret"], client.client_secret)


def test_createclient_public_client_has_null_secret(db):
    data = json.loads(run("SPA", "--redirect-uri", "https://spa.example.com/cb", "--public", "--json"))
    assert data["client_secret"] is None
    assert Client.objects.get(client_id=data["client_id"]).client_type == Client.CLIENT_PUBLIC


def test_createclient_accepts_options(db):
    data = json.loads(
        run(
            "Intranet",
            "--redirect-uri",
            "https://a.example.com/cb",
            "--redirect-uri",
            "https://b.example.com/cb",
            "--post-logout-redirect-uri",
            "https://a.example.com/bye",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--skip-consent",
            "--id-token-alg",
            "ES256",
            "--json",
        )
    )
    client = Client.objects.get(client_id=data["client_id"])
    assert client.redirect_uris.split() == ["https://a.example.com/cb", "https://b.example.com/cb"]
    assert client.post_logout_redirect_uris == "https://a.example.com/bye"
    assert client.grant_types == ["authorization_code", "client_credentials"]
    assert client.skip_authorization is True
    assert client.algorithm == "ES256"


def test_createclient_plain_output_says_secret_is_shown_once(db):
    out = run("Shop", "--redirect-uri", "https://shop.example.com/cb")
    assert "client_id:" in out and "client_secret:" in out and "not shown again" in out


@pytest.mark.parametrize(
    "args",
    [
        ["NoRedirect"],
        ["BadUri", "--redirect-uri", "not a uri"],
        ["PublicMachine", "--public", "--grant-type", "client_credentials"],
    ],
)
def test_createclient_bad_arguments_fail_and_create_nothing(db, args):
    with pytest.raises(CommandError):
        run(*args)
    assert Client.objects.count() == 0


def test_createclient_unknown_grant_type_exits_non_zero(db):
    with pytest.raises(CommandError):
        run("X", "--redirect-uri", "https://x.example.com/cb", "--grant-type", "password")
    assert Client.objects.count() == 0
