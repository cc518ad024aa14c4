"""docs/screenshots.md shows every page of the list `make screenshots` renders, and
docs/screenshots/ holds only those pages' files."""

from tests.docs.pages import DOCS, page_text
from tests.e2e.pages import SCREENS, WIDTHS

NAMES = [f"{screen.name}-{width}.png" for screen in SCREENS for width in WIDTHS]


def test_screenshots_page_shows_every_page_at_both_widths():
    text = page_text("screenshots.md")
    missing = [name for name in NAMES if f"(screenshots/{name})" not in text]
    assert not missing, f"docs/screenshots.md leaves out {missing}"


def test_screenshots_folder_holds_only_the_listed_pages():
    stale = sorted(path.name for path in (DOCS / "screenshots").glob("*.png") if path.name not in NAMES)
    assert not stale, f"docs/screenshots/ holds {stale}, which no page of tests/e2e/pages.py renders"
