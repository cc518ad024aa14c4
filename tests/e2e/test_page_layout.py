"""Every page people see, at 1280 and 390 px in headless Chromium: nothing wider than its box
unless the box scrolls, the page never wider than the window, no request answered 4xx or 5xx
(the icon included), and each page answering what it should.

The pages and the layout rule are tests/e2e/pages.py's, which ``make screenshots`` renders too.
The checks themselves are shown to fail and to pass on pages made for them here: a table too wide
for its box, one that fits, one in a box that scrolls, text cut off in a cell, a missing
stylesheet and icon served by a throwaway HTTP server.
"""

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e import pages
from tests.e2e.conftest import chromium_context


@pytest.fixture
def demo(issuer, mailoutbox) -> pages.Demo:
    # The staff member's key rotation makes keys of its own: the pool's are the issuer's already.
    return pages.demo_rows(issuer=issuer)


def test_page_layout_every_page_fits_and_loads_at_both_widths(demo):
    failures = []
    with chromium_context() as context, pages.tour(context.browser, demo) as tour:
        for width in pages.WIDTHS:
            for screen in pages.SCREENS:
                visit = tour.visit(screen, width)
                problems = visit.problems + pages.layout_problems(visit.page, width=width)
                failures += [f"{screen.name} at {width} px: {problem}" for problem in problems]
    assert not failures, "\n".join(failures)


# --- the checks, on pages made to pass and to fail ------------------------------------------

TABLE = "<table><tr>{cells}</tr></table>"
WIDE_ROW = "".join(f"<td>column_{number}_with_a_long_unbroken_value</td>" for number in range(8))
NARROW_ROW = "<td>When</td><td>Who</td><td>What</td>"


@pytest.fixture(scope="module")
def chromium_page() -> Iterator:
    """One Chromium page for the checks below. It outlives the tour test above, which must run
    first (file order): the tour's rows are made before its own Playwright starts."""
    with chromium_context() as context:
        yield context.new_page()


@pytest.fixture
def browser_page(chromium_page):
    chromium_page.set_viewport_size({"width": 390, "height": 844})
    return chromium_page


def show(page, body: str) -> None:
    page.set_content(f"<!doctype html><meta charset=utf-8><body style='margin:8px'>{body}")


def test_page_layout_fails_a_table_wider_than_a_box_that_does_not_scroll(browser_page):
    show(browser_page, f"<main style='max-width:300px'>{TABLE.format(cells=WIDE_ROW)}</main>")
    problems = pages.layout_problems(browser_page, width="390")
    assert any(problem.startswith("main ") and "does not scroll" in problem for problem in problems), problems
    assert any("the page is" in problem for problem in problems), problems


def test_page_layout_fails_a_table_cut_off_by_its_box(browser_page):
    show(browser_page, f"<main style='overflow:hidden'>{TABLE.format(cells=WIDE_ROW)}</main>")
    problems = pages.layout_problems(browser_page, width="390")
    assert len(problems) == 1 and problems[0].startswith("main ") and "cuts off" in problems[0], problems


def test_page_layout_fails_text_cut_off_in_a_cell(browser_page):
    cell = (
        "<td style='max-width:80px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>"
        "signing_key.created_active</td>"
    )
    show(browser_page, TABLE.format(cells=cell))
    problems = pages.layout_problems(browser_page, width="390")
    assert len(problems) == 1 and "signing_key.created_active" in problems[0], problems
    assert "cuts off" in problems[0]


def test_page_layout_passes_a_wide_table_in_a_box_that_scrolls(browser_page):
    show(browser_page, f"<div style='overflow-x:auto'>{TABLE.format(cells=WIDE_ROW)}</div>")
    assert pages.layout_problems(browser_page, width="390") == []


def test_page_layout_passes_a_table_that_fits(browser_page):
    show(browser_page, f"<main style='max-width:300px'>{TABLE.format(cells=NARROW_ROW)}</main>")
    assert pages.layout_problems(browser_page, width="390") == []


def test_page_layout_passes_screen_reader_text_and_long_field_values(browser_page):
    hidden = (
        "<span style='position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)'>"
        "Text for screen readers only, far longer than one pixel</span>"
    )
    field = "<input style='width:100px' value='a value much longer than the hundred pixel field'>"
    show(browser_page, hidden + field)
    assert pages.layout_problems(browser_page, width="390") == []


def test_page_layout_fails_a_table_that_scrolls_at_the_wide_width(browser_page):
    # At 1280 px every column shows; at 390 px the same table may scroll in its box.
    browser_page.set_viewport_size({"width": 1280, "height": 800})
    show(browser_page, f"<div style='overflow-x:auto;max-width:600px'>{TABLE.format(cells=WIDE_ROW)}</div>")
    problems = pages.layout_problems(browser_page, width="1280")
    assert len(problems) == 1 and problems[0].startswith("table ") and "scrolling sideways" in problems[0]
    assert "(div)" in problems[0], problems


def test_page_layout_passes_a_sidebar_in_the_margin_kept_for_it(browser_page):
    # The admin index's layout: the sidebar floats into its column's right margin.
    browser_page.set_viewport_size({"width": 1280, "height": 800})
    sidebar = "<div style='float:right;width:260px;margin-right:-300px'>Recent actions</div>"
    show(browser_page, f"<div style='margin-right:300px'>{sidebar}<p>Apps</p></div>")
    assert pages.layout_problems(browser_page, width="1280") == []
    # Past that margin, it is drawn over what stands beside its column, and fails.
    show(
        browser_page, "<div style='width:300px;margin-right:100px'><div style='width:500px'>Wide</div></div>"
    )
    problems = pages.layout_problems(browser_page, width="1280")
    assert len(problems) == 1 and "reaching 100 px past its 300 px box" in problems[0], problems


def test_page_layout_passes_text_moved_out_of_an_image_button(browser_page):
    button = (
        "<a href='#' style='display:block;width:24px;height:24px;overflow:hidden;text-indent:-3000px'>"
        "Choose selected groups</a>"
    )
    show(browser_page, button)
    assert pages.layout_problems(browser_page, width="390") == []


@pytest.fixture
def static_site(tmp_path) -> Iterator[str]:
    """Serve ``tmp_path`` over HTTP on a loopback port; return its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


def test_page_layout_reports_a_missing_stylesheet_and_icon_and_passes_when_they_exist(
    browser_page, static_site, tmp_path
):
    (tmp_path / "page.html").write_text(
        "<!doctype html><title>Page</title><link rel=stylesheet href=/site.css><p>Hello"
    )
    context = browser_page.context
    responses = pages.ResponseLog()
    responses.watch(context)
    page = context.new_page()
    page.goto(f"{static_site}/page.html")
    responses.check_icon(page)
    assert sorted(responses.take()) == [
        f"icon {static_site}/favicon.ico answered 404",
        f"stylesheet {static_site}/site.css answered 404",
    ]

    (tmp_path / "site.css").write_text("p { color: #222 }")
    (tmp_path / "favicon.ico").write_bytes(b"\0\0\1\0")
    fresh = pages.ResponseLog()
    fresh.watch(context)
    page.reload()
    fresh.check_icon(page)
    assert fresh.take() == []
    page.close()
