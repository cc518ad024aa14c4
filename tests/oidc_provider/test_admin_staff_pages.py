"""The admin as staff meet it: pages grouped by what they do, one word ("app") for a client,
plain help on the app form, an audit log in words, keys that say what they sign, and a new
secret shown once on a page reached by a redirect."""

import html
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as BrowserClient

from audit.actions import LABELS, Action
from audit.models import AuditEvent
from audit.services import audit_record
from oidc_provider.models import Algorithm, Api, Client, SigningKey
from tests.admin_forms import add_client_in_admin, handover
from tests.conftest import PASSWORD, sign_in

CLIENTS = "/admin/oidc_provider/client/"
KEYS = "/admin/oidc_provider/signingkey/"
AUDIT = "/admin/audit/auditevent/"


def text_of(response) -> str:
    """The page's visible text, tags removed and entities decoded, spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def index_sections(response) -> dict[str, list[str]]:
    """The index's section captions, each with the pages it lists."""
    page = response.content.decode()
    sections: dict[str, list[str]] = {}
    for block in re.findall(r"<caption>(.*?)</table>", page, flags=re.S):
        found = re.search(r'class="section">([^<]+)</a>', block)
        assert found is not None, block
        caption = html.unescape(found.group(1))
        sections[caption] = [
            html.unescape(name) for name in re.findall(r'<th scope="row"[^>]*>\s*<a [^>]*>([^<]+)</a>', block)
        ]
    return sections


# --- 1. the index is grouped by what staff do ------------------------------------------------


def test_admin_index_groups_pages_by_what_staff_do(staff):
    sections = index_sections(staff.get("/admin/"))
    assert list(sections) == ["Apps & APIs", "People", "Security", "Advanced / diagnostics"]
    assert sections["Apps & APIs"][:3] == ["Apps", "APIs", "Roles"]
    assert sections["People"] == ["Users", "Groups", "Invitations", "Sign-ups"]
    assert sections["Security"] == [
        "Sign-in sessions",
        "Signing keys",
        "Audit log",
        "Failed logins and lockouts",
        "Sign-in providers (Google, Entra, GitHub, …)",
    ]
    # The internals sit only under the marked diagnostics section.
    internals = {
        "Access tokens",
        "Refresh tokens",
        "ID tokens",
        "Grants",
        "Task Results",
        "Recovery code sets",
    }
    assert internals <= set(sections["Advanced / diagnostics"])
    for name in ("Apps & APIs", "People", "Security"):
        assert not internals & set(sections[name])
    # No Django app shows as a group of its own.
    text = text_of(staff.get("/admin/"))
    for app_name in ("Authentication and authorization", "OpenID Connect provider", "Tasks database backend"):
        assert app_name.lower() not in text.lower()


def test_admin_diagnostics_are_hidden_from_staff_who_are_not_superusers(db, django_user_model):
    helpdesk = django_user_model.objects.create_user("helpdesk", password=PASSWORD, is_staff=True)
    helpdesk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_client", "view_accesstoken", "view_user"])
    )
    browser = sign_in(BrowserClient(), "helpdesk", PASSWORD)
    index = browser.get("/admin/")
    sections = index_sections(index)
    assert sections == {"Apps & APIs": ["Apps"], "People": ["Users"]}
    # The sidebar on every page follows the index.
    apps_page = browser.get(CLIENTS)
    assert "Access tokens" not in apps_page.content.decode()
    # The page is still reachable for whoever has the permission, by its address.
    assert browser.get("/admin/oidc_provider/accesstoken/").status_code == 200


def test_admin_section_page_lists_its_pages_and_breadcrumbs_name_it(staff):
    section = staff.get("/admin/section/security/")
    assert section.status_code == 200
    assert list(index_sections(section)) == ["Security"]
    assert staff.get("/admin/section/nowhere/").status_code == 404
    crumbs = re.search(
        r'<div class="breadcrumbs">(.*?)</div>', staff.get(AUDIT).content.decode(), re.S
    ).group(1)
    assert " ".join(html.unescape(re.sub(r"<[^>]+>", " ", crumbs)).split()) == "Home › Security › Audit log"
    assert 'href="/admin/section/security/"' in crumbs
    # A Django app's own page shows its part of each section.
    oidc = index_sections(staff.get("/admin/oidc_provider/"))
    assert "Apps" in oidc["Apps & APIs"] and "Users" not in str(oidc)


# --- 2. one word: app -------------------------------------------------------------------------


def test_admin_calls_clients_apps_in_titles_breadcrumbs_buttons_and_columns(staff, make_client):
    make_client(name="Team wiki")
    listing = staff.get(CLIENTS)
    text = text_of(listing)
    assert "Select app to change" in text and "Add app" in text and "2 apps" not in text
    assert "Home › Apps & APIs › Apps" in text
    assert "Trusted (no consent page)" in text and "Skip authorization" not in text
    assert "By trusted first-party app" in text and "skip authorization" not in text.lower()
    form = text_of(staff.get(CLIENTS + "add/", {"kind": "web"}))
    assert "Add app" in form and "Add client" not in form
    assert "Home › Apps & APIs › Apps › Add app" in form
    # The protocol word stays where a developer needs it.
    assert "Client ID" in text


def test_admin_added_app_message_says_app(staff, signing_keys):
    response = add_client_in_admin(staff)
    assert "The app “Admin-made app” was added." in text_of(response)


# --- 4. the app form in plain words -----------------------------------------------------------


def test_admin_app_form_help_has_no_rfc_numbers_and_says_what_settings_do(staff):
    for kind in ("web", "native", "machine"):
        form = text_of(staff.get(CLIENTS + "add/", {"kind": kind}))
        assert not re.search(r"RFC\s*\d", form), re.search(r".{80}RFC\s*\d.{40}", form)
    web = text_of(staff.get(CLIENTS + "add/", {"kind": "web"}))
    assert "stops a stolen sign-in code being used by someone else" in web
    # A new app has no current secret to keep.
    assert "Leave blank to keep the current secret" not in web
    assert "Leave blank and Porchlight makes a strong secret, shown once after saving" in web


def test_admin_app_change_form_help_has_no_rfc_numbers(staff, make_client):
    app = make_client(name="Team wiki")
    form = text_of(staff.get(f"{CLIENTS}{app.model.pk}/change/"))
    assert not re.search(r"RFC\s*\d", form), re.search(r".{80}RFC\s*\d.{40}", form)
    assert "Leave blank to keep the current secret" in form


def test_admin_app_owner_is_a_search_box_that_names_people(staff, user, make_client):
    form = staff.get(CLIENTS + "add/", {"kind": "web"}).content.decode()
    owner = re.search(r'<select name="user"[^>]*>', form).group(0)
    assert "admin-autocomplete" in owner and 'data-ajax--url="/admin/autocomplete/"' in owner
    found = staff.get(
        "/admin/autocomplete/",
        {"term": "Liddell", "app_label": "oidc_provider", "model_name": "client", "field_name": "user"},
    ).json()
    assert found["results"] == [{"id": str(user.pk), "text": "Alice Liddell (alice)"}]
    app = make_client(name="Owned app")
    Client.objects.filter(pk=app.model.pk).update(user=user)
    change = staff.get(f"{CLIENTS}{app.model.pk}/change/").content.decode()
    assert f'<option value="{user.pk}" selected>Alice Liddell (alice)</option>' in change


# --- 5. the audit log in words ----------------------------------------------------------------


def test_every_audit_action_has_a_label():
    assert set(LABELS) == set(Action)
    assert all(str(label) and str(label) != action.value for action, label in LABELS.items())


def test_admin_audit_log_shows_labels_names_and_keeps_the_codes(staff, make_client, user, root):
    app = make_client(name="Team wiki")
    audit_record(action=Action.USER_MFA_RESET, target=user, actor=root)
    text = text_of(staff.get(AUDIT))
    assert f"App added client.create Team wiki {app.client_id}" in text
    assert "Staff reset a person's second step user.mfa_reset Alice Liddell alice" in text
    # The filter offers the actions by label; its links carry the code.
    page = staff.get(AUDIT).content.decode()
    assert re.search(r'href="\?action=client\.create"[^>]*>\s*App added\s*<', page)
    filtered = text_of(staff.get(AUDIT, {"action": "user.mfa_reset"}))
    assert "Alice Liddell" in filtered and "Team wiki" not in filtered
    # The stored event keeps its machine-readable code and label (exports and searches use them).
    event = AuditEvent.objects.get(action="client.create", target_id=str(app.model.pk))
    assert event.target == app.client_id
    assert "App added" in text_of(staff.get(f"{AUDIT}{event.pk}/change/"))
    # An app deleted since shows by the label it was recorded with.
    Client.objects.filter(pk=app.model.pk).delete()
    assert app.client_id in text_of(staff.get(AUDIT))


# --- 3. change lists that fit -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "columns"),
    [
        (CLIENTS, ["Name", "Client ID", "Kind of app", "Trusted (no consent page)", "Added by", "Added"]),
        (AUDIT, ["When", "Action", "About", "Actor", "IP address"]),
        (KEYS, ["Algorithm", "Key ID", "State", "Created", "Signing since", "Retired"]),
    ],
)
def test_admin_change_lists_have_short_columns(staff, signing_keys, make_client, url, columns):
    make_client(name="Team wiki")
    page = staff.get(url).content.decode()
    head = re.search(r'<table id="result_list">\s*<thead>(.*?)</thead>', page, re.S).group(1)
    shown = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", th)).split())
        for th in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', head, re.S)
    ]
    # A sorted column's header also carries its sort priority ("1").
    assert [re.sub(r"^\d+ ", "", name) for name in shown if name] == columns
    # Dates are short: "2026-12-06 15:43", not "Dec. 6, 2026, 3:43 p.m.".
    assert "p.m." not in page and "a.m." not in page


# --- 6. signing keys --------------------------------------------------------------------------


def test_admin_keys_page_says_which_key_signs_what(staff, signing_keys, make_client):
    make_client(name="Team wiki")
    make_client(name="Small tokens", algorithm=Algorithm.ES256, access_token_algorithm=Algorithm.ES256)
    Api.objects.create(identifier="https://api.example.com", name="Orders", algorithm=Algorithm.EDDSA)
    text = text_of(staff.get(KEYS))
    rs256 = SigningKey.objects.get(algorithm="RS256", state="active")
    assert "Which key signs what" in text
    assert "RS256 unless changed" in text
    assert f"RS256 (the default) {rs256.kid[:13]}… 1 app 1 app" in text
    assert "ES256" in text and re.search(r"ES256 \S+ 1 app 1 app", text)
    assert re.search(r"EdDSA \S+ 0 apps 0 apps, 1 API", text)


def test_admin_rotate_now_button_asks_then_rotates_and_is_audited(staff, root, signing_keys):
    listing = staff.get(KEYS).content.decode()
    assert re.search(r'<a href="/admin/oidc_provider/signingkey/rotate/"[^>]*>Rotate now</a>', listing)
    old = set(SigningKey.objects.filter(state="active").values_list("kid", flat=True))
    ask = staff.get(KEYS + "rotate/")
    assert ask.status_code == 200 and "Rotate every key now" in ask.content.decode()
    assert 'name="csrfmiddlewaretoken"' in ask.content.decode()
    # Asking changes nothing.
    assert set(SigningKey.objects.filter(state="active").values_list("kid", flat=True)) == old
    done = staff.post(KEYS + "rotate/", follow=True)
    assert done.redirect_chain == [(KEYS, 302)]
    new = set(SigningKey.objects.filter(state="active").values_list("kid", flat=True))
    assert len(new) == 4 and not new & old
    assert set(SigningKey.objects.filter(kid__in=old).values_list("state", flat=True)) == {"retired"}
    assert AuditEvent.objects.filter(action="signing_key.promoted", actor=root).count() == 4


def test_admin_rotate_now_is_refused_without_permission(db, signing_keys, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_signingkey"))
    browser = sign_in(BrowserClient(), "viewer", PASSWORD)
    old = set(SigningKey.objects.filter(state="active").values_list("kid", flat=True))
    listing = browser.get(KEYS)
    assert listing.status_code == 200 and "Rotate now" not in text_of(listing)
    assert browser.get(KEYS + "rotate/").status_code == 403
    assert browser.post(KEYS + "rotate/").status_code == 403
    # Nor through the actions menu.
    browser.post(
        KEYS, {"action": "rotate_now", "_selected_action": [key.pk for key in SigningKey.objects.all()]}
    )
    assert set(SigningKey.objects.filter(state="active").values_list("kid", flat=True)) == old


def test_admin_rotate_needs_a_csrf_token(root, signing_keys):
    browser = sign_in(BrowserClient(), "root", "root-password-123")
    # Signed in; from now on the browser's POSTs carry no CSRF token, as a forged form's would not.
    browser.handler.enforce_csrf_checks = True
    old = set(SigningKey.objects.filter(state="active").values_list("kid", flat=True))
    assert browser.post(KEYS + "rotate/").status_code == 403
    assert set(SigningKey.objects.filter(state="active").values_list("kid", flat=True)) == old


# --- 7. the hand-over page: a GET after a redirect, the secret once ---------------------------


def test_admin_new_app_secret_is_on_a_get_page_after_a_redirect_and_shown_once(
    staff, root, signing_keys, django_user_model
):
    response = add_client_in_admin(staff)
    assert response.redirect_chain == [("/admin/oidc_provider/client/new-settings/", 302)]
    assert response.request["REQUEST_METHOD"] == "GET"
    secret = handover(response)["Client secret"]
    assert secret and f"OIDC_CLIENT_SECRET={secret}" in html.unescape(response.content.decode())
    # Reloading the page shows it no more.
    again = staff.get("/admin/oidc_provider/client/new-settings/", follow=True)
    assert secret not in again.content.decode()
    assert "A secret is shown only once" in text_of(again)
    # Nor does another staff member's visit, nor the app's settings page.
    django_user_model.objects.create_superuser("other", "other@example.com", PASSWORD)
    other = sign_in(BrowserClient(), "other", PASSWORD)
    assert secret not in other.get("/admin/oidc_provider/client/new-settings/", follow=True).content.decode()
    app = Client.objects.get(name="Admin-made app")
    assert secret not in other.get(f"{CLIENTS}{app.pk}/handover/").content.decode()
    # The session no longer holds it either.
    assert secret not in str(dict(staff.session))


def test_admin_handover_environment_box_shows_every_line(staff, signing_keys):
    response = add_client_in_admin(staff)
    page = response.content.decode()
    box = re.search(r'<textarea id="env-1" rows="(\d+)" wrap="soft"[^>]*>(.*?)</textarea>', page, re.S)
    assert box is not None
    assert int(box.group(1)) > len(box.group(2).splitlines())
