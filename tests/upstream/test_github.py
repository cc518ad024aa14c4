"""The GitHub kind against a local server speaking GitHub's documented endpoints (github.com is out of reach).

GitHub is OAuth 2.0 without OpenID Connect: the identity is ``GET /user`` (its numeric ``id`` is the
subject) and the address is the verified primary one from ``GET /user/emails``.
"""

from urllib.parse import parse_qs, urlsplit

from accounts.models import User
from audit.models import AuditEvent
from tests.upstream.helpers import auth_context, round_trip, start
from upstream.models import LinkedIdentity


def test_github_button_uses_githubs_authorize_endpoint_with_pkce(client, github, fake_github):
    location = start(client, "github")
    assert location.startswith(fake_github.url + "/login/oauth/authorize?")
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == "Iv1.github-client"
    assert query["scope"] == "read:user user:email"
    assert query["code_challenge_method"] == "S256" and query["state"]
    assert "nonce" not in query  # no OpenID Connect here


def test_github_sign_in_makes_an_account_from_the_verified_primary_address(client, github, fake_github):
    response = round_trip(client, "github")
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    user = User.objects.get(email="octocat@example.net")
    assert user.username == "octocat" and (user.first_name, user.last_name) == ("Mona", "Octocat")
    assert LinkedIdentity.objects.get(user=user).subject == "583231"
    assert auth_context(client)["amr"] == ["fed"]
    assert "GET /user" in fake_github.requests and "GET /user/emails" in fake_github.requests


def test_github_sign_in_with_an_unverified_primary_address_is_refused(client, github, fake_github):
    fake_github.emails = [{"email": "octocat@example.net", "primary": True, "verified": False}]
    response = round_trip(client, "github")
    assert response.status_code == 400
    assert "did not confirm your e-mail address" in response.content.decode()
    assert not User.objects.exists()
    assert AuditEvent.objects.get(action="upstream.failure").detail["reason"] == "email_unverified"


def test_github_refusing_the_code_is_a_plain_page(client, github, fake_github):
    github.client_id = "someone-else"
    github.save()
    response = round_trip(client, "github")
    assert response.status_code == 400
    assert "Sign-in did not complete" in response.content.decode()
    assert not User.objects.exists()


def test_github_answering_nonsense_is_a_plain_page(client, github, fake_github):
    fake_github.user = ["not", "a", "user"]
    response = round_trip(client, "github")
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not User.objects.exists()
