"""The "Connect your app" recipes (docs/recipes/) run as their readers run them.

Each test takes the blocks with a file name (```python title="app.py"```) out of its page into
``tmp_path``, sets only the environment variables the page names (issuer, client ID and secret,
the app's URL), registers the app with the page's own `createclient` command (its URIs moved to
the test's port), starts the app with the command the page shows (Django's runserver, `flask run`,
uvicorn, node, a static file server) and signs in to it through one Porchlight served as
production serves it (``served_provider``, shared by the module): the app must show the signed-in
person's claims after the callback, and its sign-out must end Porchlight's session too. The apps
are served as ``localhost`` and Porchlight as ``127.0.0.1``, so their cookies stay apart, as they
would on two hosts.

The programs that cannot run here (oauth2-proxy, Grafana, Nextcloud) have their snippets checked
against the live discovery document and against the option names their documentation lists.
"""

import configparser
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests

from tests.cluster import ServedProvider, free_port, manage, served_provider, stop
from tests.conftest import PASSWORD
from tests.docs.pages import page_text, titled_blocks
from tests.e2e.conftest import Browser, chromium_context, chromium_sign_in
from tests.rp import NODE_DIR

BIN = Path(sys.executable).parent
# What a reader's shell has; the test process's own settings (DJANGO_SETTINGS_MODULE,
# PORCHLIGHT_*) stay out of the apps.
BASE_ENV = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
# The placeholders the pages ask the reader to replace.
EXAMPLE_ISSUER = "https://id.example.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedProvider]:
    """One Porchlight for every recipe (a server start costs seconds); stopped by PID after them."""
    with served_provider(tmp_path_factory.mktemp("recipes")) as provider:
        provider.create_user(
            "alice",
            PASSWORD,
            email="alice@example.com",
            email_verified=True,
            first_name="Alice",
            last_name="Liddell",
        )
        yield provider


@pytest.fixture(scope="module")
def discovery(served) -> dict:
    response = requests.get(f"{served.url}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def browser(served) -> Iterator[Browser]:
    browser = Browser(served.url)
    yield browser
    browser.session.close()


def write_files(page: str, folder: Path) -> dict[str, str]:
    """Write the page's named blocks into ``folder``; return them by file name."""
    blocks = titled_blocks(page)
    assert blocks, f"{page} shows no file"
    for name, body in blocks.items():
        (folder / name).write_text(body)
    return blocks


def shell_lines(page: str, prefix: str) -> list[list[str]]:
    """Return the commands of the page's ``sh`` blocks that start with ``prefix``, split into words."""
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", page_text(page), re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(prefix):
                found.append(shlex.split(line))
    assert found, f"{page} shows no `{prefix}` command"
    return found


@contextmanager
def running(command: list[str], *, cwd: Path, env: dict[str, str], url: str) -> Iterator[None]:
    """Run ``command`` in ``cwd`` until the block ends; wait until ``url`` answers first."""
    log = cwd / "app.log"
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=cwd, env={**BASE_ENV, **env}, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 180  # a loaded machine takes a while to start a framework
        while True:
            try:
                requests.get(url, timeout=10, allow_redirects=False)
                break
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} did not start: {log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield
    finally:
        stop(process)


def app_command(page: str, prefix: str, port: int) -> list[str]:
    """The page's command that starts the app, with the reader's port and tools (the suite's venv)."""
    words = shell_lines(page, prefix)[-1]
    words = [str(port) if re.fullmatch(r"\d{4}", word) else word for word in words]
    tool = BIN / words[0]
    return [str(tool) if tool.exists() else words[0], *words[1:]]


def sign_in(browser: Browser, start: str) -> requests.Response:
    """Follow the app's sign-in link to Porchlight, sign in and allow, return the app's page after."""
    to_provider = browser.session.get(start, allow_redirects=False, timeout=10)
    assert to_provider.is_redirect, to_provider.text[:500]
    location = browser.sign_in(urljoin(start, to_provider.headers["Location"]))
    assert not location.startswith(browser.issuer), location
    return browser.session.get(location, timeout=10)


def assert_porchlight_asks_for_the_password(browser: Browser, start: str) -> None:
    """Porchlight's session ended: signing in to the app again shows the sign-in form."""
    to_provider = browser.session.get(start, allow_redirects=False, timeout=10)
    page = browser.get(urljoin(start, to_provider.headers["Location"]))
    assert page.status_code == 200
    assert urlsplit(page.url).path == "/accounts/login/", page.url


def on_port(uri: str, port: int) -> str:
    parts = urlsplit(uri)
    return parts._replace(netloc=f"{parts.hostname}:{port}").geturl()


@dataclass
class Registered:
    client_id: str
    secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str


def register(served: ServedProvider, page: str, port: int) -> Registered:
    """Run the page's `createclient` command against ``served``, with the app's URIs on ``port``."""
    words = shell_lines(page, "python manage.py createclient")[0][3:]
    words = [on_port(word, port) if word.startswith("http://localhost:") else word for word in words]
    created = json.loads(manage(served.env, "createclient", *words, "--json"))
    return Registered(
        created["client_id"],
        created["client_secret"],
        words[words.index("--redirect-uri") + 1],
        words[words.index("--post-logout-redirect-uri") + 1],
    )


# --- Django with mozilla-django-oidc --------------------------------------------------------


def test_recipe_django_mozilla_django_oidc(served, browser, tmp_path):
    write_files("recipes/django.md", tmp_path)
    port = free_port()
    app = f"http://localhost:{port}"
    client = register(served, "recipes/django.md", port)
    assert client.redirect_uri == f"{app}/oidc/callback/"
    post_logout = client.post_logout_redirect_uri
    env = {
        "OIDC_ISSUER": served.url,
        "OIDC_CLIENT_ID": client.client_id,
        "OIDC_CLIENT_SECRET": client.secret,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }
    migrate = app_command("recipes/django.md", "django-admin migrate", port)
    subprocess.run(migrate, cwd=tmp_path, env={**BASE_ENV, **env}, check=True, capture_output=True)
    runserver = app_command("recipes/django.md", "django-admin runserver", port)
    # runserver's reloader would start a second process; the reader's Ctrl-C stops both.
    with running([*runserver, "--noreload"], cwd=tmp_path, env=env, url=f"{app}/"):
        assert "Not signed in" in browser.session.get(f"{app}/", timeout=10).text
        home = sign_in(browser, f"{app}/oidc/authenticate/")
        assert home.url == f"{app}/"
        assert "Signed in as Alice Liddell (alice@example.com)" in home.text, home.text

        back = browser.submit(home, "/oidc/logout/", {})
        assert back.status_code == 302 and back.headers["Location"] == post_logout
        assert "Not signed in" in browser.session.get(back.headers["Location"], timeout=10).text
        assert_porchlight_asks_for_the_password(browser, f"{app}/oidc/authenticate/")


# --- Flask with Authlib ---------------------------------------------------------------------


def test_recipe_flask_authlib(served, browser, tmp_path):
    write_files("recipes/flask.md", tmp_path)
    port = free_port()
    app = f"http://localhost:{port}"
    client = register(served, "recipes/flask.md", port)
    assert client.redirect_uri == f"{app}/callback"
    post_logout = client.post_logout_redirect_uri
    env = {
        "OIDC_ISSUER": served.url,
        "OIDC_CLIENT_ID": client.client_id,
        "OIDC_CLIENT_SECRET": client.secret,
        "FLASK_SECRET_KEY": secrets.token_urlsafe(32),
    }
    command = app_command("recipes/flask.md", "flask --app app run", port)
    with running(command, cwd=tmp_path, env=env, url=f"{app}/"):
        assert "Not signed in" in browser.session.get(f"{app}/", timeout=10).text
        home = sign_in(browser, f"{app}/login")
        assert home.url == f"{app}/"
        assert "Signed in as Alice Liddell (alice@example.com)" in home.text, home.text

        back = browser.submit(home, "/logout", {})
        assert back.status_code == 302 and back.headers["Location"] == post_logout
        assert "Not signed in" in browser.session.get(back.headers["Location"], timeout=10).text
        assert_porchlight_asks_for_the_password(browser, f"{app}/login")


# --- FastAPI with py-oidc-auth --------------------------------------------------------------


def test_recipe_fastapi_py_oidc_auth(served, browser, tmp_path):
    page = "recipes/fastapi.md"
    write_files(page, tmp_path)
    port = free_port()
    app = f"http://localhost:{port}"
    client = register(served, page, port)
    post_logout = client.post_logout_redirect_uri
    env = {
        "OIDC_ISSUER": served.url,
        "OIDC_CLIENT_ID": client.client_id,
        "OIDC_CLIENT_SECRET": client.secret,
        "APP_URL": app,
    }
    # The URLs the page tells the reader to open (the app's address in their query too), on the
    # test's port.
    login, logout = (
        url.replace("http://localhost:8000", app)
        for url in re.findall(r"`(http://localhost:8000/api/auth/v2/log(?:in|out)\?[^`]+)`", page_text(page))
    )
    command = app_command(page, "uvicorn app:app", port)
    with running(command, cwd=tmp_path, env=env, url=f"{app}/logged-out"):
        callback = sign_in(browser, login)
        assert callback.status_code == 200, callback.text
        tokens = callback.json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = requests.get(f"{app}/api/me", headers=bearer, timeout=10)
        assert me.status_code == 200, me.text
        subject = me.json()["sub"]
        assert requests.get(f"{app}/api/me", timeout=10).status_code == 401
        profile = requests.get(f"{app}/api/auth/v2/userinfo", headers=bearer, timeout=10)
        assert profile.status_code == 200, profile.text
        assert profile.json()["email"] == "alice@example.com"
        assert profile.json()["username"] == "alice"

        refreshed = requests.post(
            f"{app}/api/auth/v2/token", data={"refresh-token": tokens["refresh_token"]}, timeout=10
        )
        assert refreshed.status_code == 200, refreshed.text
        renewed = refreshed.json()
        me = requests.get(
            f"{app}/api/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}, timeout=10
        )
        assert me.json() == {"sub": subject}

        # No ID token hint: Porchlight asks first (RP-Initiated Logout 1.0 §2), then sends them back.
        question = browser.get(logout)
        assert question.status_code == 200 and "Sign out of My FastAPI app?" in question.text
        back = browser.submit(question, "/o/logout/", {})
        assert back.status_code == 302 and back.headers["Location"] == post_logout
        assert browser.session.get(post_logout, timeout=10).json() == {"message": "You are signed out."}
        after = requests.post(
            f"{app}/api/auth/v2/token", data={"refresh-token": renewed["refresh_token"]}, timeout=10
        )
        assert after.status_code == 400 and "invalid_grant" in after.text
        assert_porchlight_asks_for_the_password(browser, login)


# --- a single-page app with oidc-client-ts ----------------------------------------------------


def test_recipe_spa_oidc_client_ts(served, tmp_path):
    page = "recipes/spa.md"
    blocks = write_files(page, tmp_path)
    port = free_port()
    app = f"http://localhost:{port}"
    client = register(served, page, port)
    assert client.secret is None, "a single-page app is a public client"
    client_id, post_logout = client.client_id, client.post_logout_redirect_uri
    # The two values the page tells the reader to replace in config.js, and the library it copies.
    config = blocks["config.js"]
    assert EXAMPLE_ISSUER in config and "YOUR_CLIENT_ID" in config
    (tmp_path / "config.js").write_text(
        config.replace(EXAMPLE_ISSUER, served.url).replace("YOUR_CLIENT_ID", client_id)
    )
    assert shell_lines(page, "cp node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js")
    shutil.copy(NODE_DIR / "node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js", tmp_path)
    command = app_command(page, "python3 -m http.server", port)
    command[0] = sys.executable
    with running(command, cwd=tmp_path, env={}, url=f"{app}/"), chromium_context() as context:
        tab = context.new_page()
        tab.goto(f"{app}/")
        status = tab.locator("#status")
        status.get_by_text("Not signed in").wait_for()
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{served.url}/**")
        chromium_sign_in(tab)
        tab.get_by_role("button", name="Allow").click()
        tab.wait_for_url(f"{app}/")
        status.get_by_text("Signed in as Alice Liddell (alice@example.com)").wait_for()
        # What automaticSilentRenew does before the access token expires: a refresh token grant,
        # from the page's own UserManager (a top-level const, so the page's global scope has it).
        before, after = tab.evaluate(
            """async () => {
                const before = await manager.getUser();
                const after = await manager.signinSilent();
                return [before, after].map((u) => [u.access_token, u.refresh_token, u.profile.sub]);
            }"""
        )
        assert before[0] != after[0] and before[1] != after[1], "the tokens were renewed and rotated"
        assert before[2] == after[2]

        tab.get_by_role("button", name="Sign out").click()
        tab.wait_for_url(post_logout)
        status.get_by_text("Not signed in").wait_for()
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{served.url}/accounts/login/**")
        tab.get_by_role("heading", name="Sign in", exact=True).wait_for()


# --- Node.js with Express and openid-client -------------------------------------------------


def test_recipe_express_openid_client(served, browser, tmp_path):
    page = "recipes/express.md"
    write_files(page, tmp_path)
    # The packages the page installs, from the suite's lock (tests/e2e/node).
    installed = shell_lines(page, "npm install")[0][2:]
    assert set(installed) <= set(json.loads((NODE_DIR / "package.json").read_text())["dependencies"])
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
    port = free_port()
    app = f"http://localhost:{port}"
    client = register(served, page, port)
    post_logout = client.post_logout_redirect_uri
    env = {
        "OIDC_ISSUER": served.url,
        "OIDC_CLIENT_ID": client.client_id,
        "OIDC_CLIENT_SECRET": client.secret,
        "APP_URL": app,
        "PORT": str(port),
        "SESSION_SECRET": secrets.token_urlsafe(32),
    }
    node = shutil.which("node")
    assert node, "node is not installed"
    command = app_command(page, "node app.mjs", port)
    with running([node, *command[1:]], cwd=tmp_path, env=env, url=f"{app}/"):
        assert "Not signed in" in browser.session.get(f"{app}/", timeout=10).text
        home = sign_in(browser, f"{app}/login")
        assert home.url == f"{app}/"
        assert "Signed in as Alice Liddell (alice@example.com)" in home.text, home.text

        back = browser.submit(home, "/logout", {})
        assert back.status_code == 302 and back.headers["Location"] == post_logout
        assert "Not signed in" in browser.session.get(back.headers["Location"], timeout=10).text
        assert_porchlight_asks_for_the_password(browser, f"{app}/login")


# --- oauth2-proxy, Grafana and Nextcloud: their snippets against discovery and their docs ---------

# The options each program documents, as far as the snippets use them.
# https://oauth2-proxy.github.io/oauth2-proxy/configuration/overview (config file: the flags with _)
OAUTH2_PROXY_OPTIONS = {
    "provider",
    "provider_display_name",
    "oidc_issuer_url",
    "client_id",
    "client_secret",
    "client_secret_file",
    "redirect_url",
    "scope",
    "code_challenge_method",
    "oidc_email_claim",
    "oidc_groups_claim",
    "email_domains",
    "allowed_groups",
    "cookie_secret",
    "cookie_secure",
    "upstreams",
    "whitelist_domains",
    "http_address",
}
# https://grafana.com/docs/grafana/latest/setup-grafana/configure-access/configure-authentication/generic-oauth/
GRAFANA_OPTIONS = {
    "server": {"root_url"},
    "auth": {"signout_redirect_url", "disable_login_form", "oauth_auto_login"},
    "auth.generic_oauth": {
        "enabled",
        "name",
        "icon",
        "client_id",
        "client_secret",
        "scopes",
        "auth_url",
        "token_url",
        "api_url",
        "auth_style",
        "use_pkce",
        "use_refresh_token",
        "allow_sign_up",
        "auto_login",
        "login_attribute_path",
        "name_attribute_path",
        "email_attribute_path",
        "groups_attribute_path",
        "role_attribute_path",
        "role_attribute_strict",
        "allowed_groups",
        "allowed_domains",
    },
}
# https://github.com/nextcloud/user_oidc ("Commandline settings": occ user_oidc:provider)
USER_OIDC_PROVIDER_OPTIONS = {
    "clientid",
    "clientsecret",
    "discoveryuri",
    "endsessionendpointuri",
    "postlogouturi",
    "scope",
    "unique-uid",
    "check-bearer",
    "send-id-token-hint",
    "mapping-uid",
    "mapping-display-name",
    "mapping-email",
    "mapping-groups",
    "group-provisioning",
}
SERVICES = "recipes/services.md"


def snippet(name: str, served: ServedProvider) -> str:
    """The page's snippet ``name`` with the example issuer replaced by the running one."""
    text = titled_blocks(SERVICES)[name]
    assert EXAMPLE_ISSUER in text, f"{name} names no issuer to replace"
    return text.replace(EXAMPLE_ISSUER, served.url)


def registered(served: ServedProvider, app_name: str) -> list[str]:
    """Run the page's `createclient` command for ``app_name`` against ``served``; return its words."""
    for words in shell_lines(SERVICES, "python manage.py createclient"):
        if words[3] == app_name:
            created = json.loads(manage(served.env, "createclient", *words[3:], "--json"))
            assert created["client_secret"], "a web server app, with a secret"
            return words
    raise AssertionError(f"no createclient for {app_name}")


def assert_scopes_allowed(scopes: list[str], discovery: dict, registration: list[str]) -> None:
    assert "openid" in scopes
    assert set(scopes) <= set(discovery["scopes_supported"]), scopes
    # A client asks for groups only when staff allowed it (docs/claims.md).
    assert ("groups" in scopes) == ("--release-groups" in registration)


def test_recipe_oauth2_proxy_snippet_matches_discovery(served, discovery):
    config = tomllib.loads(snippet("oauth2-proxy.cfg", served))
    assert set(config) <= OAUTH2_PROXY_OPTIONS, set(config) - OAUTH2_PROXY_OPTIONS
    assert config["provider"] == "oidc"
    # oauth2-proxy discovers the rest from the issuer, which must match discovery's exactly.
    assert config["oidc_issuer_url"] == discovery["issuer"]
    words = registered(served, "Internal app")
    assert config["redirect_url"] == words[words.index("--redirect-uri") + 1]
    assert urlsplit(config["redirect_url"]).path == "/oauth2/callback"
    assert_scopes_allowed(config["scope"].split(), discovery, words)
    assert config["code_challenge_method"] in discovery["code_challenge_methods_supported"]
    for claim in (config["oidc_email_claim"], config["oidc_groups_claim"]):
        assert claim in discovery["claims_supported"], claim
    # Go's oauth2 package sends the secret in the Authorization header first.
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]


def test_recipe_grafana_snippet_matches_discovery(served, discovery):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(snippet("grafana.ini", served))
    for section in parser.sections():
        assert set(parser[section]) <= GRAFANA_OPTIONS[section], (section, set(parser[section]))
    oauth = parser["auth.generic_oauth"]
    assert oauth["auth_url"] == discovery["authorization_endpoint"]
    assert oauth["token_url"] == discovery["token_endpoint"]
    assert oauth["api_url"] == discovery["userinfo_endpoint"]
    words = registered(served, "Grafana")
    redirect_uri = words[words.index("--redirect-uri") + 1]
    assert redirect_uri == parser["server"]["root_url"] + "/login/generic_oauth"
    assert_scopes_allowed(oauth["scopes"].split(), discovery, words)
    assert oauth.getboolean("use_pkce") and "S256" in discovery["code_challenge_methods_supported"]
    assert oauth["auth_style"] == "InHeader"
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]
    assert "refresh_token" in discovery["grant_types_supported"]
    for option in (
        "login_attribute_path",
        "name_attribute_path",
        "email_attribute_path",
        "groups_attribute_path",
    ):
        assert oauth[option] in discovery["claims_supported"], option
    assert re.match(r"contains\(groups\[\*\]", oauth["role_attribute_path"])

    # Sign-out goes to the end session endpoint, naming the client and a registered return page.
    signout = urlsplit(parser["auth"]["signout_redirect_url"])
    assert f"{signout.scheme}://{signout.netloc}{signout.path}" == discovery["end_session_endpoint"]
    query = dict(parse_qsl(signout.query))
    assert query["client_id"] == oauth["client_id"]
    assert query["post_logout_redirect_uri"] == words[words.index("--post-logout-redirect-uri") + 1]


def test_recipe_nextcloud_user_oidc_snippet_matches_discovery(served, discovery):
    lines = snippet("nextcloud-oidc.sh", served).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line) for line in lines if line.strip()]
    assert all(words[:2] == ["php", "occ"] for words in commands)
    assert [words[2] for words in commands] == ["app:install", "config:system:set", "user_oidc:provider"]
    assert commands[1][3:] == ["user_oidc", "use_pkce", "--type=boolean", "--value=true"]
    assert "S256" in discovery["code_challenge_methods_supported"]
    options = dict(word[2:].split("=", 1) for word in commands[2][4:])
    assert set(options) <= USER_OIDC_PROVIDER_OPTIONS, set(options) - USER_OIDC_PROVIDER_OPTIONS
    assert options["discoveryuri"] == f"{served.url}/.well-known/openid-configuration"
    assert requests.get(options["discoveryuri"], timeout=10).json()["issuer"] == discovery["issuer"]
    words = registered(served, "Nextcloud")
    assert_scopes_allowed(options["scope"].split(), discovery, words)
    for option in ("mapping-uid", "mapping-display-name", "mapping-email"):
        assert options[option] in discovery["claims_supported"], option
    assert options["postlogouturi"] == words[words.index("--post-logout-redirect-uri") + 1]
    assert urlsplit(words[words.index("--redirect-uri") + 1]).path == "/apps/user_oidc/code"
