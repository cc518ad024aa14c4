"""Every admin page answers, and no admin link leads to an error.

The walk covers the changelist, add page, change page, history and delete confirmation of every
model registered in the admin, each with a row to show, then follows every admin link those
pages carry (filters, sorting, date drill-downs, object tools, "View on site").
"""

from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from accounts.invitations.services import Invitee, invitation_create
from accounts.mfa.models import TOTPAuthenticator
from accounts.mfa.recovery_codes import recovery_codes_generate
from oidc_provider.apis import api_save, client_scopes_change, role_save
from oidc_provider.models import Api, DeviceGrant, Role
from oidc_provider.registration import registration_token_create
from oidc_provider.services import claim_define
from scim.tokens import provisioning_client_create
from tests.conftest import PASSWORD, authorize, exchange
from upstream.models import UpstreamProvider

# Links that change state or end the session are forms in Porchlight's admin; these are the
# only anchors that would, and they are covered by their own tests.
SKIPPED = ("/admin/logout/",)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and not href.startswith(("#", "javascript:", "mailto:")):
            self.links.append(href)


def admin_links(page_url: str, html: str) -> set[str]:
    parser = _Links()
    parser.feed(html)
    links = set()
    for href in parser.links:
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        if parts.netloc in ("", "testserver") and parts.path.startswith("/admin/"):
            links.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return links


@pytest.fixture
def every_model_has_a_row(
    staff, user, logged_in, client, rp, make_client, signing_keys, django_user_model, settings
):
    """One row (at least) of every model the admin shows, made the way the service makes them."""
    exchange(client, rp, authorize(logged_in, rp))  # tokens, ID token, consent, used code
    authorize(logged_in, make_client(name="Unredeemed"))  # a code never exchanged
    BrowserClient().post("/accounts/login/", {"username": "alice", "password": "wrong"})  # lockout record
    registration_token_create(label="partner", expires=timezone.now() + timedelta(days=1))
    provisioning_client_create(name="Entra")
    finance = Group.objects.create(name="finance")
    finance.user_set.add(user)
    ledger = api_save(
        api=Api(identifier="https://ledger.example.com/", name="Ledger"),
        scopes={"read:ledger": "See the ledger"},
        roles={"bookkeeper": "Keeps the books"},
        created=True,
    )
    role_save(role=Role.objects.get(api=ledger), add_users=[user], add_groups=[finance])
    client_scopes_change(client=rp.model, allow=["read:ledger"])
    # A claim of staff's own with its identity scope; the user page then shows its attribute.
    claim_define(name="department", label="Department", type="string", scope="work", scope_description="Work")
    # A second sign-in whose app hears of its end: a logout delivery and its queued task.
    elsewhere = BrowserClient()
    elsewhere.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    authorize(
        elsewhere,
        make_client(name="Back-channel", logout={"backchannel_logout_uri": "https://rp.example.com/bc"}),
    )
    elsewhere.post("/accounts/logout/")
    TOTPAuthenticator.objects.create(user=user, name="Phone", confirmed=True)
    UpstreamProvider.objects.create(
        slug="corp", label="Corp", discovery_url="https://id.corp.example/.well-known/openid-configuration"
    )
    recovery_codes_generate(user)
    invitation_create(invitee=Invitee("robin@example.com", "Robin"), created_by=None)
    # Someone signed up on the sign-up page and has not confirmed the address yet.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SIGNUP": "open"}
    password = "a long walk to the lighthouse"
    BrowserClient().post(
        "/accounts/signup/", {"email": "sam@example.com", "password1": password, "password2": password}
    )
    DeviceGrant.objects.create(
        client_id=rp.client_id,
        device_code="0" * 64,
        user_code="ABCDEFGH",
        expires=timezone.now() + timedelta(minutes=10),
        user=user,
    )


def test_admin_pages_of_every_model_answer_and_every_link_works(staff, every_model_has_a_row):
    pages: dict[str, str] = {}

    def visit(url: str, expected=(200,)) -> None:
        response = staff.get(url, follow=True)
        assert response.status_code in expected, f"{url} answered {response.status_code}"
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            pages[url] = response.content.decode()

    visit("/admin/")
    # Whom the admin asks about permissions: the staff member of every page below.
    request = staff.get("/admin/").wsgi_request
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        assert model._default_manager.exists(), f"seed a {model._meta.label} for this walk"
        visit(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(request):
            visit(reverse("admin:{}_{}_add".format(*info)))
        obj = model._default_manager.order_by("pk").first()
        visit(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        visit(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
        if model_admin.has_delete_permission(request, obj):
            visit(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]))

    # Then every admin link those pages carry, once each: none may lead to an error.
    followed = set(pages)
    for url, html in list(pages.items()):
        for link in admin_links(url, html) - followed:
            followed.add(link)
            if link.startswith(SKIPPED):
                continue
            response = staff.get(link, follow=True)
            assert response.status_code == 200, f"{link} (linked from {url}) answered {response.status_code}"
    assert len(followed) > 100  # the walk really walked
