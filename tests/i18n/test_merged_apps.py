"""The pages of upstream sign-in and its failures in the reader's language, provider names as typed."""

import pytest

from tests.upstream.helpers import provider_create


@pytest.fixture
def acme(db):
    return provider_create(
        slug="acme", label="Acme", kind="github", client_id="acme-client", secret="s3cret-upstream"
    )


def test_sign_in_buttons_in_french(client, acme):
    page = client.get("/accounts/login/", headers={"accept-language": "fr"}).content.decode()
    assert "Ou connectez-vous avec" in page
    assert "Se connecter avec Acme" in page
    assert "Sign in with" not in page


def test_upstream_failure_page_in_german(client, acme):
    response = client.get(
        "/upstream/acme/callback/?code=abc&state=not-the-one-sent", headers={"accept-language": "de"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Anmeldung nicht abgeschlossen" in page and "Zurück zur Anmeldung" in page
    assert "Dieser Anmeldelink wurde bereits verwendet oder stammt nicht von hier." in page


def test_upstream_failure_names_the_provider_as_typed_in_dutch(client, acme):
    # Nothing listens at the provider's address: the message names it by its label, in Dutch.
    acme.web_base_url = acme.api_base_url = "http://127.0.0.1:9"
    acme.save()
    location = client.get("/upstream/acme/start/")["Location"]
    state = location.split("state=")[1].split("&")[0]
    response = client.get(
        f"/upstream/acme/callback/?code=abc&state={state}", headers={"accept-language": "nl"}
    )
    page = response.content.decode()
    assert response.status_code == 502, page[:500]
    assert "Acme was niet bereikbaar of antwoordde niet op tijd." in page
