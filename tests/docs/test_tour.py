"""The README's five-minute tour works as written, against the demo data `make run` loads."""

import base64
import re
import shlex
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from oidc_provider import rotation
from tests.docs.pages import ROOT

README = (ROOT / "README.md").read_text()
TOUR = README.partition("## A five-minute tour")[2].partition("\n## ")[0]
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", TOUR, re.MULTILINE | re.DOTALL)


def _block(language: str, containing: str) -> str:
    (block,) = [text for lang, text in BLOCKS if lang == language and containing in text]
    return block


def _curl(command: str) -> tuple[str, dict[str, str], str]:
    """Return the URL, the form fields (``-d``) and the ``-u`` credentials of a curl command."""
    words = shlex.split(command.replace("\\\n", " "))
    url = next(word for word in words if word.startswith("http"))
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "-d"]
    (user,) = [words[i + 1] for i, word in enumerate(words) if word == "-u"]
    return url, dict(pair.split("=", 1) for pair in pairs), user


@pytest.mark.django_db
def test_tour_signs_in_to_the_demo_app_as_the_readme_says(client):
    call_command("loaddata", str(settings.BASE_DIR / "fixtures" / "demo.json"), verbosity=0)
    rotation.keys_rotate(algorithms=["RS256"])
    username, password = re.search(r"Sign in as `(\w+)` with\s+the password `([\w-]+)`", TOUR).groups()
    assert client.post("/accounts/login/", {"username": username, "password": password}).status_code == 302

    # Step 2: the authorization request, then the consent page's form, answered "allow".
    authorize = urlsplit(_block("text", "/o/authorize/").strip())
    page = client.get(f"{authorize.path}?{authorize.query}")
    assert page.status_code == 200 and b"Porchlight demo app" in page.content
    # The form that carries the request id, wherever its action points.
    form = re.search(
        rb'<form[^>]*action="([^"]*)"[^>]*>(?:(?!</form>).)*name="request_id"', page.content, re.DOTALL
    )
    form = form.group(1).decode()
    answer = client.post(form or authorize.path, {"request_id": page.context["request_id"], "allow": "1"})
    assert answer.status_code == 302
    redirect = urlsplit(answer["Location"])
    query = {key: values[0] for key, values in parse_qs(redirect.query).items()}
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == "http://127.0.0.1:8080/callback"
    assert query["state"] == "tour" and query["iss"] == settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]

    # The token request, as the README's curl sends it, with the code from the address bar.
    url, fields, user = _curl(_block("sh", "/o/token/"))
    fields["code"] = query["code"]
    tokens = client.post(
        urlsplit(url).path, fields, HTTP_AUTHORIZATION="Basic " + base64.b64encode(user.encode()).decode()
    )
    assert tokens.status_code == 200, tokens.content
    assert {"id_token", "access_token", "refresh_token"} <= set(tokens.json())

    # UserInfo with the access token, as the README's second curl sends it.
    userinfo = urlsplit(re.search(r"curl -s (\S+/o/userinfo/)", TOUR).group(1)).path
    answer = client.get(userinfo, HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}")
    assert answer.status_code == 200 and answer.json()["preferred_username"] == username
