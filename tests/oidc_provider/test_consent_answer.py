"""The consent page's answer has a URL of its own, with Django's CSRF protection.

Authorization requests may be POSTed cross-site (OIDC Core 1.0 §3.1.2.1), so the authorization
endpoint takes no CSRF token; the consent answer is a form of ours and must carry one.
"""

import re
import secrets

from django.test import Client as BrowserClient

from oidc_provider.models import Grant
from tests.conftest import pkce_pair, query_of

AUTHORIZE = "/o/authorize/"
CONSENT = "/o/authorize/consent/"


def consent_page(browser, rp):
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid email",
        "state": secrets.token_urlsafe(6),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(AUTHORIZE, params)
    assert page.status_code == 200 and "request_id" in page.context
    return page


def strict_browser(logged_in) -> BrowserClient:
    """Return ``logged_in``'s session in a client that checks CSRF tokens as browsers' requests are."""
    strict = BrowserClient(enforce_csrf_checks=True)
    strict.cookies = logged_in.cookies
    return strict


def test_consent_page_form_posts_to_the_consent_answer(rp, logged_in):
    page = consent_page(logged_in, rp)
    assert re.search(rf'<form method="post" action="{CONSENT}">', page.content.decode())
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()


def test_consent_answer_without_csrf_token_is_refused(rp, logged_in):
    strict = strict_browser(logged_in)
    page = consent_page(strict, rp)
    response = strict.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert response.status_code == 403
    assert not Grant.objects.exists()


def test_consent_answer_with_the_pages_csrf_token_issues_the_code(rp, logged_in):
    strict = strict_browser(logged_in)
    page = consent_page(strict, rp)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = strict.post(
        CONSENT, {"request_id": page.context["request_id"], "allow": "1", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(rp.redirect_uri + "?")
    assert query_of(response["Location"])["code"]


def test_consent_answer_posted_to_the_authorization_endpoint_is_no_answer(rp, logged_in):
    page = consent_page(logged_in, rp)
    request_id = page.context["request_id"]
    response = logged_in.post(AUTHORIZE, {"request_id": request_id, "allow": "1"})
    # An authorization request naming no client: an error page, no code.
    assert response.status_code == 400 and "Location" not in response
    assert not Grant.objects.exists()
    # The pending request was not used up: its own answer still works.
    answer = logged_in.post(CONSENT, {"request_id": request_id, "allow": "1"})
    assert answer.status_code == 302 and query_of(answer["Location"])["code"]


def test_consent_answer_is_post_only(rp, logged_in):
    page = consent_page(logged_in, rp)
    response = logged_in.get(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert response.status_code == 405
    assert not Grant.objects.exists()
