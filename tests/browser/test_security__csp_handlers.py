"""The behaviour that inline handlers had, under the Content-Security-Policy (no inline script):
a refused evidence upload (422) is swapped into the panel by static/forms.js, not by hx-on."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine import Engine

from ..factories import ClueDriver
from .conftest import SignIn


def test_a_refused_upload_shows_its_message_in_the_panel(page: Page, sign_in: SignIn, live_engine: Engine) -> None:
    clue = ClueDriver(live_engine)
    clue.triage()
    clue.assign()
    sign_in("unit")
    page.get_by_test_id("inbox").get_by_role("link", name="制定整改方案").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    task_url = page.url
    upload = page.get_by_test_id("evidence-upload")
    expect(upload).to_be_visible()
    upload.locator("input[type=file]").set_input_files(
        {"name": "程序.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00not allowed"})
    with page.expect_response(lambda r: "/evidence/" in r.url and r.request.method == "POST") as answer:
        upload.locator("button[type=submit]").click()
    assert answer.value.status == 422
    expect(page.get_by_test_id("evidence-panel").locator("[data-error=file]")).to_be_visible()
    assert page.url == task_url
