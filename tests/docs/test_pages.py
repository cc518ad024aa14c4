"""The README and docs/ name only files that exist, link only to pages that exist, cite no tracker."""

import re

import pytest

from tests.docs.pages import DOCS, ROOT, code_spans

PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
# A path in the repository, as the pages write one in a code span: `porchlight/settings.py`, `tests/e2e/`.
TOP_LEVEL = "|".join(
    re.escape(path.name)
    for path in ROOT.iterdir()
    if path.is_dir() and path.name not in {".git", ".venv", "var"}
)
REPOSITORY_PATH = re.compile(rf"(?:{TOP_LEVEL})/[\w./-]*")
# A Markdown link's target: [text](target).
LINK = re.compile(r"\]\(([^)\s]+)\)")
# "issue 11", "issues #7", "(#12)": the project's tracker, which a reader of the repository does not have.
TRACKER = re.compile(r"\bissues?\s*#?\s*\d+|(?<![\w/&])(?<!django-oauth-toolkit )#\d+\b", re.IGNORECASE)


def _name(page) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_pages_name_files_that_exist(page):
    for span in code_spans(page.read_text()):
        if REPOSITORY_PATH.fullmatch(span):
            assert (ROOT / span).exists(), f"{_name(page)} names {span}, which does not exist"


def test_pages_path_pattern_finds_paths():
    # Guards the pattern itself: these pages do name files.
    spans = code_spans((DOCS / "design.md").read_text() + (DOCS / "deployment.md").read_text())
    assert {"oidc_provider/receivers.py", "porchlight/gunicorn.conf.py"} <= {
        span for span in spans if REPOSITORY_PATH.fullmatch(span)
    }


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_pages_link_to_files_that_exist(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:|#", target):
            continue
        path = (page.parent / target.partition("#")[0]).resolve()
        assert path.exists(), f"{_name(page)} links to {target}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_pages_cite_no_tracker_numbers(page):
    found = TRACKER.findall(page.read_text())
    assert not found, f"{_name(page)} cites {found}: say what the thing is instead"
