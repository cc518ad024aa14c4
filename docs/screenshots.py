"""Render the pages people see into docs/screenshots/ (``make screenshots``).

Starts Porchlight under gunicorn on a throwaway SQLite database with demo data, then drives
Debian's Chromium (Playwright; browsers are never downloaded) through every page of
tests/e2e/pages.py at 1280 and 390 px, into ``<page>-<width>.png``. The same list, the same demo
rows and the same checks serve tests/e2e/test_page_layout.py. It fails if a page is wider than
the screen at 390 px, if a page answers other than it should, or if anything a page asks for
(stylesheet, script, image, font, icon) answers 4xx or 5xx; the rest of the layout rule is the
test's to enforce, and is printed here as notes.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import pages  # noqa: E402 - the project's root is on the path only from here

OUT = ROOT / "docs" / "screenshots"
# The longest part of a page kept in a screenshot; the rest only makes the file bigger.
MAX_HEIGHT = 1500
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    """Return 8000 (the quick start's port, as the pages show it) if free, else any free port."""
    for port in (8000, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free port")


def prepare(env: dict[str, str]) -> pages.Demo:
    """Migrate, collect the static files and make the demo rows; return what the pages need."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("rotatekeys", verbosity=0)
    return pages.demo_rows(issuer=env["PORCHLIGHT_ISSUER"])


def wait_for(url: str, server: subprocess.Popen) -> None:
    import requests

    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit("the server stopped")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


# Where a page's section starts (the <section> holding it), a little above, in page pixels.
_SECTION_TOP = """(selector) => {
  const found = document.querySelector(selector);
  if (!found) return 0;
  const box = (found.closest("section") || found).getBoundingClientRect();
  return Math.max(0, Math.floor(box.top + window.scrollY) - 16);
}"""


def shoot(page, screen: pages.Screen, width: str) -> Path:
    """Save the page (from its section, if it has one) down to MAX_HEIGHT px."""
    page.wait_for_load_state("networkidle")
    top = page.evaluate(_SECTION_TOP, screen.section) if screen.section else 0
    height = min(page.evaluate("document.documentElement.scrollHeight") - top, MAX_HEIGHT)
    path = OUT / f"{screen.name}-{width}.png"
    clip = {"x": 0, "y": top, "width": page.viewport_size["width"], "height": height}
    page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
    return path


def optimise(paths: list[Path]) -> None:
    """Reduce the PNGs to a palette with pngquant (`make screenshots` installs it): about a third
    of the size, with no difference to see on flat page colours. Skipped when it is missing."""
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        print("pngquant is not installed: the screenshots are left as Chromium saved them")
        return
    command = [pngquant, "--quality=80-95", "--speed=3", "--strip", "--force", "--ext=.png"]
    # Exit status 99: a file already as small as that quality allows, left as it was.
    subprocess.run([*command, *map(str, paths)], check=False)  # noqa: S603 - fixed arguments


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://localhost:{port}"
    var = tempfile.mkdtemp(prefix="porchlight-screenshots-")
    env = {
        "DJANGO_SETTINGS_MODULE": "porchlight.settings",
        "PORCHLIGHT_ISSUER": base,
        "PORCHLIGHT_VAR_DIR": var,
        "DATABASE_URL": f"sqlite:///{var}/porchlight.sqlite3",
        "PORCHLIGHT_BIND": f"127.0.0.1:{port}",
        "PORCHLIGHT_WORKERS": "2",
        "PORCHLIGHT_ACCESS_LOG": "",
        "PORCHLIGHT_STAFF_REQUIRE_MFA": "false",
        # The invitations' mail goes nowhere.
        "PORCHLIGHT_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    demo = prepare(env)
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "porchlight/gunicorn.conf.py"],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    failures: list[str] = []
    notes: list[str] = []
    shot: list[Path] = []
    try:
        wait_for(f"{base}/.well-known/openid-configuration", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            with pages.tour(browser, demo) as tour:
                for width in pages.WIDTHS:
                    print(f"{width} px:")
                    for screen in pages.SCREENS:
                        visit = tour.visit(screen, width)
                        failures += [f"{screen.name} at {width} px: {problem}" for problem in visit.problems]
                        # A page wider than a phone's screen fails here; the rest is the test's.
                        too_wide = pages.page_too_wide(visit.page)
                        if too_wide and width != pages.WIDE:
                            failures.append(f"{screen.name} at {width} px: {too_wide}")
                        notes += [
                            f"{screen.name} at {width} px: {problem}"
                            for problem in pages.layout_problems(visit.page, width=width)
                            if problem != too_wide or width == pages.WIDE
                        ]
                        shot.append(shoot(visit.page, screen, width))
                        print(f"  {shot[-1].relative_to(ROOT)}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(var, ignore_errors=True)
    optimise(shot)
    if notes:
        print("Layout notes (tests/e2e/test_page_layout.py fails on these):\n  " + "\n  ".join(notes))
    if failures:
        raise SystemExit("Pages that fail:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
