"""When sign-in must use a second factor: client flag, group policy, acr_values (step-up)."""

import re
from base64 import b32decode, b32encode
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group

from accounts.mfa.models import TOTPAuthenticator
from accounts.mfa.policy import mfa_required
from accounts.models import GroupSettings
from tests.accounts.conftest import totp_code
from tests.conftest import authorize, exchange, pkce_pair, query_of, validate_id_token

STEP = "/accounts/mfa/authenticate/"
ENROLL = "/accounts/mfa/totp/"


def authorization_request(browser, rp, **extra):
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "xyz",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return browser.get("/o/authorize/", params)


@pytest.fixture
def strict_rp(make_client, signing_keys):
    rp = make_client(name="Strict app")
    rp.model.require_mfa = True
    rp.model.save()
    return rp


@pytest.fixture
def mfa_group(user):
    group = Group.objects.create(name="admins")
    GroupSettings.objects.create(group=group, require_mfa=True)
    user.groups.add(group)
    return group


def id_token_claims(client, rp, result) -> dict:
    body = exchange(client, rp, result).json()
    return validate_id_token(body["id_token"], jwks=client.get("/o/jwks/").json(), audience=rp.client_id)


def test_policy_password_session_gets_acr_pwd(logged_in, rp, client):
    claims = id_token_claims(client, rp, authorize(logged_in, rp))
    assert claims["amr"] == ["pwd"] and claims["acr"] == "pwd"


def test_policy_client_requiring_mfa_steps_up_a_password_session(logged_in, strict_rp, client, user):
    device = TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    response = authorization_request(logged_in, strict_rp)
    assert response.status_code == 302
    step = response["Location"]
    assert urlsplit(step).path == STEP
    response = logged_in.post(step, {"method": "totp", "code": totp_code(device.bin_key)})
    assert urlsplit(response["Location"]).path == "/o/authorize/"
    claims = id_token_claims(client, strict_rp, authorize(logged_in, strict_rp))
    assert claims["acr"] == "mfa"
    assert set(claims["amr"]) == {"pwd", "otp", "mfa"}


def enroll_through(browser, url: str) -> str:
    """Follow an enrollment redirect: set up an app, pass the recovery codes; return where it goes."""
    assert urlsplit(url).path == ENROLL
    page = browser.get(url).content.decode()
    assert "To continue, add a second way to confirm it’s you" in page
    shown = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page)
    form_next = re.search(r'name="next" value="([^"]+)"', page)
    assert shown and form_next, page
    typed = shown.group(1).replace(" ", "")
    key = b32decode(typed + "=" * (-len(typed) % 8))
    next_url = form_next.group(1).replace("&amp;", "&")
    response = browser.post(ENROLL, {"code": totp_code(key), "next": next_url, "required": "1"})
    codes_page = browser.get(response["Location"]).content.decode()
    onward = re.search(r'<a class="button primary" href="([^"]+)"', codes_page)
    assert onward, codes_page
    return onward.group(1).replace("&amp;", "&")


def test_policy_client_requiring_mfa_takes_user_without_device_through_enrollment(
    logged_in, strict_rp, client
):
    response = authorization_request(logged_in, strict_rp)
    onward = enroll_through(logged_in, response["Location"])
    assert urlsplit(onward).path == "/o/authorize/"
    consent = logged_in.get(onward)
    assert consent.status_code == 200 and "request_id" in consent.context
    claims = id_token_claims(client, strict_rp, authorize(logged_in, strict_rp))
    assert claims["acr"] == "mfa"


def test_policy_group_requiring_mfa_takes_member_through_enrollment(logged_in, rp, mfa_group, user):
    assert mfa_required(user)
    response = authorization_request(logged_in, rp)
    assert urlsplit(response["Location"]).path == ENROLL
    onward = enroll_through(logged_in, response["Location"])
    assert logged_in.get(onward).status_code == 200


def test_policy_group_without_requirement_changes_nothing(logged_in, rp, user):
    group = Group.objects.create(name="staff")
    GroupSettings.objects.create(group=group, require_mfa=False)
    user.groups.add(group)
    assert not mfa_required(user)
    assert authorization_request(logged_in, rp).status_code == 200


def test_policy_acr_values_mfa_steps_up(logged_in, rp, user):
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    response = authorization_request(logged_in, rp, acr_values="mfa")
    assert urlsplit(response["Location"]).path == STEP


@pytest.mark.parametrize("acr_values", ["pwd", "pwd mfa", "urn:example:gold", ""])
def test_policy_acr_values_satisfied_by_password(logged_in, rp, acr_values):
    # OIDC Core 1.0 §3.1.2.1: values in order of preference; the weakest one listed is enough.
    assert authorization_request(logged_in, rp, acr_values=acr_values).status_code == 200


def test_policy_prompt_none_without_second_factor_is_interaction_required(logged_in, strict_rp):
    response = authorization_request(logged_in, strict_rp, prompt="none")
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith(strict_rp.redirect_uri)
    # OIDC Core 1.0 §3.1.2.6
    assert query["error"] == "interaction_required"
    assert query["state"] == "xyz"


def test_policy_prompt_none_with_acr_values_mfa_is_interaction_required(logged_in, rp):
    response = authorization_request(logged_in, rp, prompt="none", acr_values="mfa")
    assert query_of(response["Location"])["error"] == "interaction_required"


def test_policy_mfa_session_needs_no_further_step(browser, strict_rp, totp_device):
    browser.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    browser.post(STEP, {"method": "totp", "code": totp_code(totp_device.bin_key)})
    response = authorization_request(browser, strict_rp)
    assert response.status_code == 200 and "request_id" in response.context


def test_policy_anonymous_user_logs_in_first(browser, strict_rp):
    response = authorization_request(browser, strict_rp)
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_discovery_lists_acr_values_supported(client, signing_keys):
    assert client.get("/.well-known/openid-configuration").json()["acr_values_supported"] == ["pwd", "mfa"]


def test_policy_admin_sets_client_and_group_requirements(staff, strict_rp):
    url = f"/admin/oidc_provider/client/{strict_rp.model.pk}/change/"
    checkbox = staff.get(url).content.decode().split('name="require_mfa"')[1].split(">")[0]
    assert "checked" in checkbox
    group_page = staff.get("/admin/auth/group/add/").content.decode()
    assert 'name="settings-0-require_mfa"' in group_page


def test_policy_admin_never_shows_totp_keys(staff, totp_device):
    url = f"/admin/accounts/totpauthenticator/{totp_device.pk}/change/"
    page = staff.get(url).content.decode()
    assert "Phone" in page
    key = totp_device.bin_key
    for secret in (key.hex(), b32encode(key).decode().rstrip("="), totp_device.key_encrypted):
        assert secret not in page
    # django-otp's own device admins (cleartext keys and codes) are gone.
    assert staff.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert staff.get("/admin/otp_static/staticdevice/").status_code == 404


def test_policy_admin_lists_recovery_codes_left_never_the_codes(staff, user, recovery_codes):
    page = staff.get("/admin/accounts/recoverycodedevice/").content.decode()
    assert "alice" in page and '<td class="field-remaining">10</td>' in page
    for code in recovery_codes:
        assert code not in page and code.replace("-", "") not in page
