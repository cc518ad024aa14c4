"""Remembered consent (OIDC Core 1.0 §3.1.2.4, §3.1.2.6, §11; docs/design.md, gap 10)."""

import secrets

from django.db import connections
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from oidc_provider.consent import consent_grant
from oidc_provider.models import Consent
from tests.conftest import ISSUER, authorize, basic_auth, exchange, pkce_pair, query_of

AUTHORIZE = "/o/authorize/"
CONSENT = "/o/authorize/consent/"


def request_authorization(browser, rp, scope: str, **extra):
    """Send an authorization request and return the response, without answering any page."""
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(6),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return browser.get(AUTHORIZE, params)


def assert_consent_page(response) -> None:
    assert response.status_code == 200, response.get("Location")
    assert b"wants to use your Porchlight account" in response.content


def assert_code(response, rp) -> str:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(response["Location"])
    assert query["iss"] == ISSUER
    assert "error" not in query
    return query["code"]


def granted_scopes(user, rp) -> set[str]:
    return set(Consent.objects.get(user=user, client=rp.model).scopes)


# --- remembered consent skips the page (OIDC Core 1.0 §3.1.2.4) -------------------------------


def test_consent_skipped_on_second_authorization_with_same_scopes(rp, logged_in, client):
    assert_consent_page(request_authorization(logged_in, rp, "openid profile email"))
    authorize(logged_in, rp, scope="openid profile email")

    result = authorize(logged_in, rp, scope="openid profile email")
    # The code came straight back from the GET: no consent page was shown or posted.
    assert result.response.request["REQUEST_METHOD"] == "GET"
    body = exchange(client, rp, result).json()
    assert set(body["scope"].split()) == {"openid", "profile", "email"}
    assert "id_token" in body


def test_consent_skipped_for_fewer_scopes(rp, logged_in):
    authorize(logged_in, rp, scope="openid profile email")
    assert_code(request_authorization(logged_in, rp, "openid email"), rp)
    assert_code(request_authorization(logged_in, rp, "openid"), rp)


def test_consent_is_per_client(rp, make_client, logged_in):
    authorize(logged_in, rp, scope="openid email")
    other = make_client(name="Other app")
    assert_consent_page(request_authorization(logged_in, other, "openid email"))


def test_consent_is_per_user(rp, logged_in, django_user_model, browser):
    authorize(logged_in, rp, scope="openid email")
    django_user_model.objects.create_user(username="bob", password="another good password 42")
    assert (
        browser.post(
            "/accounts/login/", {"username": "bob", "password": "another good password 42"}
        ).status_code
        == 302
    )
    assert_consent_page(request_authorization(browser, rp, "openid email"))


# --- new scopes are asked for again ----------------------------------------------------------


def test_consent_shown_again_for_new_scope_and_records_union(rp, logged_in, user):
    authorize(logged_in, rp, scope="openid email")
    page = request_authorization(logged_in, rp, "openid profile")
    assert_consent_page(page)
    # The page says which access is new.
    content = page.content.decode()
    assert "some access before" in content
    assert '<li data-scope="profile">' in content
    profile_item = content.split('data-scope="profile">')[1].split("</li>")[0]
    openid_item = content.split('data-scope="openid">')[1].split("</li>")[0]
    assert "(new)" in profile_item and "(new)" not in openid_item

    response = logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert_code(response, rp)
    assert granted_scopes(user, rp) == {"openid", "email", "profile"}
    # Everything allowed so far is now covered, in any combination.
    assert_code(request_authorization(logged_in, rp, "openid email profile"), rp)


def test_consent_offline_access_needs_its_own_consent(rp, logged_in, client):
    # OIDC Core 1.0 §11: offline access is only granted with the user's explicit consent.
    authorize(logged_in, rp, scope="openid email")
    page = request_authorization(logged_in, rp, "openid email offline_access")
    assert_consent_page(page)
    offline_item = page.content.decode().split('data-scope="offline_access">')[1].split("</li>")[0]
    assert "(new)" in offline_item


def test_consent_first_page_marks_nothing_new(rp, logged_in):
    page = request_authorization(logged_in, rp, "openid email")
    assert_consent_page(page)
    assert b"(new)" not in page.content
    assert b"some access before" not in page.content


# --- prompt (OIDC Core 1.0 §3.1.2.1, §3.1.2.6) -------------------------------------------------


def test_consent_prompt_consent_always_shows_page(rp, logged_in, user):
    authorize(logged_in, rp, scope="openid profile email")
    page = request_authorization(logged_in, rp, "openid email", prompt="consent")
    assert_consent_page(page)
    assert b"(new)" not in page.content
    response = logged_in.post(CONSENT, {"request_id": page.context["request_id"], "allow": "1"})
    assert_code(response, rp)
    # Asking again narrows nothing: the consent still holds what was allowed before.
    assert granted_scopes(user, rp) == {"openid", "profile", "email"}


def test_consent_prompt_none_issues_code_when_covered(rp, logged_in):
    authorize(logged_in, rp, scope="openid profile email")
    assert_code(request_authorization(logged_in, rp, "openid email", prompt="none"), rp)


def test_consent_prompt_none_is_consent_required_for_new_scope(rp, logged_in):
    authorize(logged_in, rp, scope="openid email")
    response = request_authorization(logged_in, rp, "openid email phone", prompt="none", state="s1")
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert query["error"] == "consent_required"
    assert query["state"] == "s1"
    assert "code" not in query


def test_consent_prompt_none_is_consent_required_without_consent(rp, logged_in):
    response = request_authorization(logged_in, rp, "openid", prompt="none")
    assert query_of(response["Location"])["error"] == "consent_required"


# --- answers that record nothing -------------------------------------------------------------


def test_consent_denied_records_nothing(rp, logged_in, user):
    result = authorize(logged_in, rp, scope="openid email", allow=False)
    assert query_of(result.response["Location"])["error"] == "access_denied"
    assert not Consent.objects.filter(user=user).exists()
    assert_consent_page(request_authorization(logged_in, rp, "openid email"))


def test_consent_denied_new_scope_keeps_earlier_consent(rp, logged_in, user):
    authorize(logged_in, rp, scope="openid email")
    authorize(logged_in, rp, scope="openid email phone", allow=False)
    assert granted_scopes(user, rp) == {"openid", "email"}
    assert_consent_page(request_authorization(logged_in, rp, "openid phone"))


def test_consent_skip_authorization_client_needs_no_record(make_client, signing_keys, logged_in, user):
    trusted = make_client(skip_consent=True)
    assert_code(request_authorization(logged_in, trusted, "openid email"), trusted)
    assert not Consent.objects.filter(user=user).exists()


# --- the service under concurrent answers ----------------------------------------------------


def test_consent_grant_merges_with_a_grant_that_won_the_insert(rp, user, monkeypatch):
    # Another request inserted the consent after this one looked and found none: the insert
    # hits the one-consent-per-user-and-client constraint and the scopes are merged instead.
    consent_grant(user=user, client=rp.model, scopes=["openid", "email"])
    real_get = QuerySet.get
    missed = []

    def get_misses_once(self, *args, **kwargs):
        if self.model is Consent and not missed:
            missed.append(True)
            raise Consent.DoesNotExist
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "get", get_misses_once)
    consent = consent_grant(user=user, client=rp.model, scopes=["openid", "profile"])
    assert missed
    assert set(consent.scopes) == {"openid", "email", "profile"}
    assert granted_scopes(user, rp) == {"openid", "email", "profile"}
    assert Consent.objects.filter(user=user).count() == 1


# --- cost ------------------------------------------------------------------------------------


def test_consent_covered_authorize_adds_at_most_one_query(rp, make_client, logged_in):
    trusted = make_client(name="Trusted app", skip_consent=True)
    authorize(logged_in, rp, scope="openid email")
    # Warm both paths (key cache, session) before counting.
    assert_code(request_authorization(logged_in, trusted, "openid email"), trusted)
    assert_code(request_authorization(logged_in, rp, "openid email"), rp)

    connection = connections["default"]
    with CaptureQueriesContext(connection) as without_consent:
        assert_code(request_authorization(logged_in, trusted, "openid email"), trusted)
    with CaptureQueriesContext(connection) as with_consent:
        assert_code(request_authorization(logged_in, rp, "openid email"), rp)
    assert len(with_consent) <= len(without_consent) + 1


# --- admin -------------------------------------------------------------------------------------


def listed(staff, query: str) -> list[str]:
    response = staff.get("/admin/oidc_provider/consent/", {"q": query})
    return sorted(str(consent) for consent in response.context["cl"].result_list)


def test_consent_admin_lists_and_searches_consents(staff, rp, make_client, logged_in):
    authorize(logged_in, rp, scope="openid email")
    other = make_client(name="Calendar")
    authorize(logged_in, other, scope="openid")

    page = staff.get("/admin/oidc_provider/consent/").content.decode()
    assert "Test app" in page and "Calendar" in page and "openid email" in page
    assert listed(staff, "Calendar") == ["alice → Calendar"]
    assert listed(staff, "alice") == ["alice → Calendar", "alice → Test app"]
    assert listed(staff, "nobody") == []
    consent = Consent.objects.get(client=rp.model)
    assert "openid" in staff.get(f"/admin/oidc_provider/consent/{consent.pk}/change/").content.decode()


def test_consent_admin_revoke_action_revokes_consent_and_tokens(staff, rp, logged_in, client):
    tokens = exchange(client, rp, authorize(logged_in, rp)).json()
    consent = Consent.objects.get(client=rp.model)

    response = staff.post(
        "/admin/oidc_provider/consent/",
        {"action": "revoke", "_selected_action": [consent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 consent." in response.content.decode()
    assert not Consent.objects.filter(pk=consent.pk).exists()
    refused = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=basic_auth(rp.client_id, rp.client_secret),
    )
    assert refused.json()["error"] == "invalid_grant"
    assert (
        client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401
    )
    # The user is asked again next time.
    assert_consent_page(request_authorization(logged_in, rp, "openid"))


def test_consent_admin_offers_no_plain_delete(staff, rp, logged_in):
    # Deleting rows alone would leave the client's tokens alive.
    authorize(logged_in, rp, scope="openid")
    page = staff.get("/admin/oidc_provider/consent/").content.decode()
    assert 'value="revoke"' in page
    assert 'value="delete_selected"' not in page


def test_consent_page_offers_allow_or_deny_and_says_where_either_leads(rp, logged_in):
    response = request_authorization(logged_in, rp, "openid profile")
    assert_consent_page(response)
    content = response.content.decode()
    assert (
        '<button type="submit" name="deny" value="1">Deny</button>' in content and ">Cancel<" not in content
    )
    assert 'sent back to Test app at <strong id="redirect-host">rp.example.com</strong>' in content
    assert "Deny sends you back to Test app at rp.example.com without giving it anything." in content
