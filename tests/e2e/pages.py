"""The pages people see, as one list: ``make screenshots`` renders them (docs/screenshots.py) and
tests/e2e/test_page_layout.py checks them, each at 1280 and 390 px.

- ``demo_rows()`` makes what the pages show (apps, APIs, people, groups, sessions, consents,
  invitations, audit events of several kinds) through the services and, for sign-ins and
  consents, through the real pages in process. It runs before any browser starts: the ORM is
  never used inside Playwright's event loop.
- ``SCREENS`` says where each page is, who sees it and what it answers.
- ``Tour`` signs each role in once (one Chromium context per role, resized for each width) and
  opens the pages; ``ResponseLog`` and ``layout_problems()`` are the checks both callers apply.

The layout rule (``layout_problems``), the one both callers apply:

1. The page never scrolls sideways: ``<html>``'s scroll width is at most its client width.
2. No element's content is wider than its box unless the box scrolls sideways (``overflow-x``
   ``auto`` or ``scroll``): a table wider than its container passes only inside a container
   that scrolls. Content wider than a box that clips it (``hidden``, ``clip``: text cut off, an
   ellipsis with no way to read the rest) fails, and so does content spilling out of a box that
   does not clip it (``visible``: drawn over its neighbours or past the card). A spill is named
   at the innermost box it leaves, not again at each ancestor it passes through.
   Not checked: form fields (their text scrolls under the cursor), images and SVG, and boxes of
   at most 1 px (the visually-hidden pattern for screen-reader text).
"""

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"1280": (1280, 800), "390": (390, 844)}
# At this width every table shows all its columns; narrower, a table may scroll in its box.
WIDE = "1280"
PASSWORD = "porchlight-demo"
STAFF = ("admin", "porchlight-admin-demo")
DEMO_USER = "demo"
# A person whose account says German (locale de-DE): the pages they see are in German.
GERMAN_USER = "jonas"
CALLBACK = "http://localhost:8080/callback"
# Addresses reserved for documentation (RFC 5737), so the sessions pages show no real ones.
DEVICES = {
    "laptop": (
        "203.0.113.24",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
    ),
    "phone": (
        "198.51.100.7",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "192.0.2.81",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
}


# --- the rows the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    """What the pages need to know about the demo rows: ids for URLs, the TOTP key to sign in."""

    issuer: str
    demo_user: int
    wiki: int
    wiki_client_id: str
    totp_key: bytes

    def url(self, path: str) -> str:
        return self.issuer + path.format(
            demo_user=self.demo_user,
            wiki=self.wiki,
            consent_query=urlencode(
                {
                    "response_type": "code",
                    "client_id": self.wiki_client_id,
                    "redirect_uri": CALLBACK,
                    "scope": "openid profile email groups offline_access",
                    "state": "screenshot",
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    "code_challenge_method": "S256",
                }
            ),
            unknown_app_query=urlencode(
                {
                    "response_type": "code",
                    "client_id": "an-app-nobody-registered",
                    "redirect_uri": CALLBACK,
                    "scope": "openid",
                }
            ),
        )


def demo_rows(*, issuer: str) -> Demo:
    """Make the rows the pages show, as staff and people would, and return what the tour needs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.invitations.services import Invitee, invitation_create
    from accounts.mfa.models import TOTPAuthenticator
    from accounts.mfa.recovery_codes import recovery_codes_generate
    from oidc_provider import rotation
    from oidc_provider.apis import api_save
    from oidc_provider.models import Api, GrantType
    from oidc_provider.services import client_create

    call_command("loaddata", str(ROOT / "fixtures" / "demo.json"), verbosity=0)
    users = get_user_model()
    staff = users.objects.create_superuser(STAFF[0], "admin@example.com", STAFF[1])
    staff.first_name, staff.last_name = "Alex", "Admin"
    staff.save()
    demo = users.objects.get(username=DEMO_USER)
    demo.set_password(PASSWORD)
    demo.save()
    people = {"demo": demo}
    for username, first, last in [
        ("robin", "Robin", "Ames"),
        ("sam", "Sam", "Okafor"),
        ("lee", "Lee", "Chen"),
        ("maria", "María", "González"),
    ]:
        person = users.objects.create_user(username, f"{username}@example.com", PASSWORD)
        person.first_name, person.last_name = first, last
        person.save()
        people[username] = person
    german = users.objects.create_user(GERMAN_USER, "jonas@example.com", PASSWORD)
    german.first_name, german.last_name, german.locale = "Jonas", "Weber", "de-DE"
    german.save()
    people[GERMAN_USER] = german
    for name, members in [
        ("Engineering", ["demo", "robin", "lee", GERMAN_USER]),
        ("On call", ["demo", "sam"]),
        ("Finance", ["maria"]),
    ]:
        group = Group.objects.create(name=name)
        group.user_set.add(*(people[member] for member in members))

    # Apps and APIs, made by the staff member: "client.create" and "api.create" in the audit log.
    secrets_by_app: dict[str, str | None] = {
        "porchlight-demo": "porchlight-demo-secret-not-for-production-2026"
    }
    wiki, secrets_by_app["wiki"] = client_create(
        name="Team wiki", redirect_uris=[CALLBACK], release_groups=True, actor=staff
    )
    expenses, secrets_by_app["expenses"] = client_create(
        name="Expense reports", redirect_uris=[CALLBACK], actor=staff
    )
    client_create(
        name="Status board",
        redirect_uris=["http://localhost:5173/callback"],
        public=True,
        allowed_origins=["http://localhost:5173"],
        actor=staff,
    )
    client_create(
        name="Nightly billing export",
        redirect_uris=[],
        grant_types=[GrantType.CLIENT_CREDENTIALS],
        actor=staff,
    )
    api_save(
        api=Api(identifier="https://inventory.example.com/", name="Inventory API"),
        scopes={"inventory:read": "See the stock list", "inventory:write": "Change stock levels"},
        roles={"stock-keeper": "Changes stock levels"},
        actor=staff,
        created=True,
    )
    api_save(
        api=Api(identifier="https://billing.example.com/api/", name="Billing API"),
        scopes={"billing:read": "See invoices"},
        actor=staff,
        created=True,
    )
    # Staff rotates the signing keys: "signing_key.*" events with a person as the actor.
    rotation.keys_rotate(force=True, actor=staff)

    # Sign-ins and consents through the real pages: sessions on several devices, consents,
    # tokens for the connected-apps page, "login.success", "consent.grant", a "login.failure".
    signs_in = AppSignIn(issuer)
    signs_in(DEMO_USER, "porchlight-demo", secrets_by_app["porchlight-demo"], device="laptop")
    signs_in(DEMO_USER, expenses.client_id, secrets_by_app["expenses"], device="phone")
    signs_in("robin", wiki.client_id, secrets_by_app["wiki"], device="desktop")
    signs_in("sam", expenses.client_id, secrets_by_app["expenses"], device="phone")
    signs_in("lee", "porchlight-demo", secrets_by_app["porchlight-demo"], device="laptop")
    signs_in.fail("maria", device="desktop")

    # The demo user's second factors, added after its sign-ins above (which then needed none).
    totp = TOTPAuthenticator.objects.create(user=demo, name="Phone", confirmed=True)
    WebAuthnCredential.objects.create(
        user=demo,
        name="MacBook passkey",
        confirmed=True,
        credential_id=secrets.token_bytes(16),
        public_key=b"demo",
        aaguid="00000000-0000-0000-0000-000000000000",
    )
    recovery_codes_generate(demo)

    for email, first, last in [("jo@example.com", "Jo", "Park"), ("kim@example.com", "Kim", "Berg")]:
        invitation_create(invitee=Invitee(email, first, last), created_by=staff)
    return Demo(issuer, demo.pk, wiki.pk, wiki.client_id, totp.bin_key)


class AppSignIn:
    """Run an app's code flow for a person, in process, through the sign-in and consent pages."""

    def __init__(self, issuer: str) -> None:
        self.host = urlsplit(issuer).netloc

    def _browser(self, device: str) -> Any:
        from django.test import Client as Browser

        address, user_agent = DEVICES[device]
        return Browser(HTTP_HOST=self.host, REMOTE_ADDR=address, HTTP_USER_AGENT=user_agent)

    def fail(self, username: str, *, device: str) -> None:
        """Type a wrong password once."""
        page = self._browser(device).post("/accounts/login/", {"username": username, "password": "wrong"})
        if page.status_code != 200:
            raise RuntimeError(f"a wrong password answered {page.status_code}")

    def __call__(self, username: str, client_id: str, client_secret: str | None, *, device: str) -> None:
        browser = self._browser(device)
        signed_in = browser.post("/accounts/login/", {"username": username, "password": PASSWORD})
        if signed_in.status_code != 302:
            raise RuntimeError(f"{username} could not sign in ({signed_in.status_code})")
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email offline_access",
            # RFC 7636 §4.2: S256, the only method the provider accepts.
            "code_challenge": base64.urlsafe_b64encode(digest).decode().rstrip("="),
            "code_challenge_method": "S256",
        }
        page = browser.get("/o/authorize/", query)
        found = re.search(r'name="request_id" value="([^"]+)"', page.content.decode())
        if found is None:
            raise RuntimeError(f"{client_id}'s consent page has no request_id ({page.status_code})")
        answer = browser.post("/o/authorize/consent/", {"request_id": found.group(1), "allow": "1"})
        code = re.search(r"[?&]code=([^&]+)", answer["Location"])
        if code is None:
            raise RuntimeError(f"no code in {answer['Location']}")
        token = browser.post(
            "/o/token/",
            {
                "grant_type": "authorization_code",
                "code": code.group(1),
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
                "client_id": client_id,
                **({"client_secret": client_secret} if client_secret else {}),
            },
        )
        if token.status_code != 200:
            raise RuntimeError(f"{username}'s code exchange failed: {token.content[:200]!r}")


# --- the pages ---------------------------------------------------------------------------------

VISITOR, SIGNING_IN, MEMBER, STAFF_MEMBER = "visitor", "signing in", "member", "staff"
# The same pages in German: a browser asking for German (Accept-Language), and a person whose
# account's language is German (docs/languages.md).
GERMAN_VISITOR, GERMAN_MEMBER = "visitor (German browser)", "member (German account)"


@dataclass(frozen=True)
class Screen:
    """One page: its file name (``<name>-<width>.png``), what it is, who sees it and where.

    ``path`` may name ``{demo_user}``, ``{wiki}``, ``{consent_query}`` and ``{unknown_app_query}``
    (``Demo.url``). ``reach`` replaces the plain visit for a page reached by submitting a form.
    ``status`` is what the page answers; ``section`` is where its screenshot starts, for a page
    that is part of another.
    """

    name: str
    title: str
    role: str
    path: str
    status: int = 200
    section: str = ""
    reach: Callable[[Any, Demo, str], Any] | None = None

    def lands_on(self, demo: Demo) -> str | None:
        """The path the browser must end on: a sign-in page or other detour instead is a failure."""
        return None if self.reach else urlsplit(demo.url(self.path)).path


# One new app per width: the hand-over page is reached by registering one.
NEW_APPS = {"1280": "Room booking", "390": "Visitor Wi-Fi"}


def add_app(page: Any, demo: Demo, width: str) -> Any:
    """Register a web app through the admin's add form; return the response that answers it."""
    page.goto(demo.url("/admin/oidc_provider/client/add/?kind=web"))
    # The add form focuses its first field once loaded (change_form.js): type after that.
    page.wait_for_load_state("load")
    # By field name: the admin's labels are worded for staff and may change; the fields stay.
    page.locator("#id_name").fill(NEW_APPS[width])
    page.locator("#id_redirect_uris").fill("https://rooms.example.com/oidc/callback")
    # Whether the save answers with the page or redirects to it, this is the page's response.
    with page.expect_navigation() as navigation:
        page.locator("input[name=_save]").click()
    return navigation.value


SCREENS = [
    Screen("sign-in", "Sign-in", VISITOR, "/accounts/login/"),
    Screen("sign-in-de", "Sign-in, for a browser that asks for German", GERMAN_VISITOR, "/accounts/login/"),
    Screen("second-factor", "Second factor", SIGNING_IN, "/accounts/mfa/authenticate/"),
    Screen("consent", "Consent", MEMBER, "/o/authorize/?{consent_query}"),
    Screen("consent-de", "Consent, for an account in German", GERMAN_MEMBER, "/o/authorize/?{consent_query}"),
    Screen("account", "Account home", MEMBER, "/accounts/"),
    Screen("account-de", "Account home, for an account in German", GERMAN_MEMBER, "/accounts/"),
    Screen("profile", "Profile", MEMBER, "/accounts/profile/"),
    Screen("security", "Two-step sign-in and passkeys", MEMBER, "/accounts/mfa/"),
    Screen("sessions", "Where you're signed in", MEMBER, "/accounts/", section="#sessions-heading"),
    Screen("connected-apps", "Connected apps", MEMBER, "/account/apps/"),
    Screen("data-export", "Data export", MEMBER, "/accounts/data/"),
    # RFC 6749 §4.1.2.1: with no registered client there is no redirect URI to trust, so the
    # person is told on the provider's own page, with 400.
    Screen("unknown-app", "An unknown app", VISITOR, "/o/authorize/?{unknown_app_query}", status=400),
    Screen("sign-out", "Sign-out confirmation", MEMBER, "/accounts/logout/"),
    Screen("admin-index", "Admin: index", STAFF_MEMBER, "/admin/"),
    Screen("admin-apps", "Admin: apps", STAFF_MEMBER, "/admin/oidc_provider/client/"),
    Screen("client-kind", "Admin: what kind of app", STAFF_MEMBER, "/admin/oidc_provider/client/add/"),
    Screen("client-form", "Admin: add a web app", STAFF_MEMBER, "/admin/oidc_provider/client/add/?kind=web"),
    Screen("client-settings", "Admin: the app's settings, handed over", STAFF_MEMBER, "", reach=add_app),
    Screen("admin-app", "Admin: an app", STAFF_MEMBER, "/admin/oidc_provider/client/{wiki}/change/"),
    Screen("admin-apis", "Admin: APIs", STAFF_MEMBER, "/admin/oidc_provider/api/"),
    Screen("admin-users", "Admin: people", STAFF_MEMBER, "/admin/accounts/user/"),
    Screen("user", "Admin: a person", STAFF_MEMBER, "/admin/accounts/user/{demo_user}/change/"),
    Screen("admin-groups", "Admin: groups", STAFF_MEMBER, "/admin/auth/group/"),
    Screen("admin-sessions", "Admin: sessions", STAFF_MEMBER, "/admin/accounts/loginsession/"),
    Screen("admin-keys", "Admin: signing keys", STAFF_MEMBER, "/admin/oidc_provider/signingkey/"),
    Screen("admin-audit", "Admin: audit log", STAFF_MEMBER, "/admin/audit/auditevent/"),
    Screen("admin-consents", "Admin: consents", STAFF_MEMBER, "/admin/oidc_provider/consent/"),
    Screen("admin-invitations", "Admin: invitations", STAFF_MEMBER, "/admin/accounts/invitation/"),
]


# --- the checks --------------------------------------------------------------------------------

_PAGE_WIDTH = """() => {
  const root = document.documentElement;
  return root.scrollWidth > root.clientWidth
    ? `the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px window` : null;
}"""

_LAYOUT = """(tablesMustFit) => {
  const problems = [];
  const label = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    for (const cls of [...el.classList].slice(0, 2)) text += "." + cls;
    return text;
  };
  const name = (el) => {
    const words = (el.innerText || "").trim().replace(/\\s+/g, " ");
    return words ? `${label(el)} ("${words.slice(0, 40)}")` : label(el);
  };
  const scrolls = (style) => style.overflowX === "auto" || style.overflowX === "scroll";
  const unchecked = new Set(["input", "textarea", "select", "option", "img", "svg", "canvas",
                             "video", "iframe", "object", "embed"]);
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (unchecked.has(tag) || el.closest("svg")) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.display === "contents" || style.visibility !== "visible") continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    if (tag === "table" && tablesMustFit) {
      let holder = el.parentElement;
      while (holder && holder !== document.body && !scrolls(getComputedStyle(holder))) {
        holder = holder.parentElement;
      }
      if (holder && holder !== document.body && box.width > holder.clientWidth + 1) {
        // Name the widest columns of the first row: where a fix would start.
        const first = el.tBodies[0] && el.tBodies[0].rows[0];
        const widths = first ? [...first.cells]
          .map((cell) => [cell.getBoundingClientRect().width, name(cell)])
          .sort((a, b) => b[0] - a[0]).slice(0, 3)
          .map(([w, n]) => `${n} ${Math.round(w)} px`).join(", ") : "";
        problems.push(`${name(el)} is ${Math.round(box.width)} px wide in a ${holder.clientWidth} px box ` +
                      `(${label(holder)}): some columns show only by scrolling sideways` +
                      (widths ? ` (widest cells: ${widths})` : ""));
      }
    }
    if (el.scrollWidth - el.clientWidth <= 1 || scrolls(style)) continue;
    // Text moved out of its box on purpose (a large negative text-indent: image replacement, as
    // on the admin's selector buttons, whose text is their accessible name) is not cut off.
    if (-parseFloat(style.textIndent) >= box.width) continue;
    const clips = style.overflowX !== "visible";
    // Content may hang into the box's own right margin, the room a layout keeps there for a
    // sidebar (the admin index's recent actions); past that it is drawn over something else.
    const reach = box.left + el.clientLeft + el.scrollWidth;
    const excess = Math.round(clips ? el.scrollWidth - el.clientWidth
                                    : reach - (box.right + parseFloat(style.marginRight)));
    if (excess <= 1) continue;
    found.push({el, clips, excess, overflow: style.overflowX});
  }
  for (const {el, clips, excess, overflow} of found) {
    // A spill shows at every box it passes through: name it where it starts.
    if (!clips && found.some((other) => other.el !== el && el.contains(other.el))) continue;
    const width = el.clientWidth;
    problems.push(clips
      ? `${name(el)} cuts off ${excess} px of its content (overflow-x: ${overflow}, ${width} px wide)`
      : `${name(el)} has content reaching ${excess} px past its ${width} px box, which does not scroll`);
  }
  return problems;
}"""


def page_too_wide(page: Any) -> str | None:
    """Say how much wider than the window ``page`` is, if it is: it then scrolls sideways."""
    return page.evaluate(_PAGE_WIDTH)


def layout_problems(page: Any, *, width: str) -> list[str]:
    """Return what breaks the layout rule (module docstring) on ``page`` at ``width`` (WIDTHS)."""
    too_wide = page_too_wide(page)
    return [too_wide] * bool(too_wide) + page.evaluate(_LAYOUT, width == WIDE)


_ICON = """() => {
  const links = document.querySelectorAll('link[rel~="icon" i]');
  return links.length ? links[links.length - 1].href : new URL("/favicon.ico", location.href).href;
}"""


@dataclass
class ResponseLog:
    """Every failed request a browser context makes (status 400 and up, or no answer at all).

    Listens to the context's response events. Chromium fetches a page's icon outside the page, so
    no event reports it: ``check_icon`` asks for the icon the page names (or /favicon.ico) the same
    way, through the context, once per address.
    """

    failures: list[str] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    icons: dict[str, int] = field(default_factory=dict)

    def watch(self, context: Any) -> None:
        context.on("response", self._response)
        context.on("requestfailed", self._failed)

    def _response(self, response: Any) -> None:
        self.answered.add(response.url)
        request = response.request
        if request.is_navigation_request() and request.frame.parent_frame is None:
            return  # the page itself: the tour compares it with what the page should answer
        if response.status >= 400:
            self.failures.append(f"{request.resource_type} {response.url} answered {response.status}")

    def _failed(self, request: Any) -> None:
        # A 4xx or 5xx is reported above; Chromium then also calls the request failed.
        if request.url not in self.answered:
            self.failures.append(f"{request.resource_type} {request.url} failed: {request.failure}")

    def check_icon(self, page: Any) -> None:
        url = page.evaluate(_ICON)
        if url not in self.icons:
            self.icons[url] = page.context.request.get(url, max_redirects=0).status
        if self.icons[url] >= 400:
            self.failures.append(f"icon {url} answered {self.icons[url]}")

    def take(self) -> list[str]:
        failures, self.failures = self.failures, []
        return failures


# --- the tour ----------------------------------------------------------------------------------


def totp_code(key: bytes) -> str:
    """Return the code an authenticator app holding ``key`` shows now (RFC 6238, 30 s, 6 digits)."""
    from django_otp.oath import TOTP

    totp = TOTP(key)
    totp.time = time.time()
    return f"{totp.token():06d}"


@dataclass
class Visit:
    """A page as the tour left it: the Playwright page, and what went wrong getting there."""

    page: Any
    problems: list[str]


class Tour:
    """Open the pages of ``SCREENS`` in one browser, each role signed in once in its own context."""

    def __init__(self, browser: Any, demo: Demo) -> None:
        self.browser = browser
        self.demo = demo
        self.responses = ResponseLog()
        self._pages: dict[str, Any] = {}

    def _page(self, role: str) -> Any:
        if role not in self._pages:
            german = role in (GERMAN_VISITOR, GERMAN_MEMBER)
            # Playwright's locale is the browser's language: navigator.language and Accept-Language.
            context = self.browser.new_context(locale="de-DE") if german else self.browser.new_context()
            self.responses.watch(context)
            page = context.new_page()
            if role not in (VISITOR, GERMAN_VISITOR):
                self._sign_in(page, role)
            self._pages[role] = page
        return self._pages[role]

    def _sign_in(self, page: Any, role: str) -> None:
        username, password = {STAFF_MEMBER: STAFF, GERMAN_MEMBER: (GERMAN_USER, PASSWORD)}.get(
            role, (DEMO_USER, PASSWORD)
        )
        page.goto(self.demo.url("/accounts/login/"))
        page.wait_for_load_state("load")
        # By field name: the labels are in the page's language.
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(password)
        page.locator("form[action='/accounts/login/'] button[type=submit]").click()
        page.wait_for_url(lambda url: urlsplit(url).path != "/accounts/login/")
        if role == MEMBER:
            page.locator("input[name=code]").fill(totp_code(self.demo.totp_key))
            page.locator("input[name=code]").press("Enter")
            page.wait_for_url(lambda url: urlsplit(url).path != "/accounts/mfa/authenticate/")
        self.responses.take()  # the way in is not one of the pages

    def visit(self, screen: Screen, width: str) -> Visit:
        """Open ``screen`` at ``width`` px; return it with its failed requests and a wrong answer."""
        page = self._page(screen.role)
        viewport_width, height = WIDTHS[width]
        page.set_viewport_size({"width": viewport_width, "height": height})
        if screen.reach:
            response = screen.reach(page, self.demo, width)
        else:
            response = page.goto(self.demo.url(screen.path))
        page.wait_for_load_state("load")
        problems = []
        status = response.status if response else None
        if status != screen.status:
            problems.append(f"the page answered {status}, not {screen.status}")
        lands_on = screen.lands_on(self.demo)
        if lands_on is not None and urlsplit(page.url).path != lands_on:
            problems.append(f"the browser landed on {page.url}")
        self.responses.check_icon(page)
        return Visit(page, problems + self.responses.take())

    def close(self) -> None:
        for page in self._pages.values():
            page.context.close()


@contextmanager
def tour(browser: Any, demo: Demo) -> Iterator[Tour]:
    opened = Tour(browser, demo)
    try:
        yield opened
    finally:
        opened.close()
