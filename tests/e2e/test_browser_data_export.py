"""In Chromium: "Your data" — sign in, ask for a copy, let the task worker prepare it, download
the file once (GDPR Art. 20), and see that the link is spent."""

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import Page, expect

from tests.e2e.conftest import chromium_context, chromium_sign_in


@pytest.fixture
def page(issuer, user) -> Iterator[Page]:
    """A fresh Chromium page; every database fixture is set up before Playwright's loop starts."""
    with chromium_context() as context:
        yield context.new_page()


def run_worker(monkeypatch) -> None:
    """Run the task worker (as `make run` does) until no task is due."""
    with monkeypatch.context() as patch:
        # Playwright's event loop is idle between calls of its sync API, yet Django sees it and
        # would refuse the ORM; the worker runs while no browser call is in flight.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
        # Opened inside Playwright's loop, this connection would outlive the test: close it now.
        connection.close()


def test_browser_data_export_download_once(page: Page, issuer: str, user, tmp_path: Path, monkeypatch):
    page.goto(f"{issuer}/accounts/")
    chromium_sign_in(page)
    page.get_by_role("link", name="Download a copy of your data").click()
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    page.get_by_role("button", name="Prepare my data").click()
    expect(page.get_by_role("heading", name="Being prepared")).to_be_visible()

    run_worker(monkeypatch)
    # The page reloads itself while the copy is prepared (a meta refresh, no script needed).
    expect(page.get_by_role("heading", name="Ready to download")).to_be_visible(timeout=15_000)
    with page.expect_download() as started:
        page.get_by_role("button", name="Download my data").click()
    download = started.value
    assert download.suggested_filename.startswith("porchlight-data-alice-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["subject"] == user.subject
    assert document["profile"]["email"] == "alice@example.com"
    assert document["sessions"] and document["audit_events"]

    page.reload()
    expect(page.get_by_text("You downloaded your last copy")).to_be_visible()
    expect(page.get_by_role("button", name="Prepare my data")).to_be_visible()
