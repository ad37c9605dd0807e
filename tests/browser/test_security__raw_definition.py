"""Issue 18 item 1 in a real browser: a definition stored with an XHTML script (deployed before
uploads refused it) is downloaded when opened, and its script never runs at our origin."""
from __future__ import annotations

import re

from playwright.sync_api import Page
from sqlalchemy import select

from engine import Engine
from engine.db.models import DefinitionFile, ProcessDefinition

from .conftest import SignIn

PAYLOAD = ('<bpmn:extensionElements><html:script xmlns:html="http://www.w3.org/1999/xhtml">'
           'localStorage.setItem("pwned", "1")</html:script></bpmn:extensionElements>')


def plant(live_engine: Engine) -> str:
    """Put the script into the stored clue_handling.bpmn as an old, unchecked upload would have."""
    with live_engine.transaction() as ctx:
        row = ctx.session.scalar(select(DefinitionFile).join(ProcessDefinition).where(
            ProcessDefinition.process_id == "clue_handling", DefinitionFile.filename == "clue_handling.bpmn"))
        row.content = re.sub(r'(<bpmn:process [^>]*>)', lambda m: m.group(1) + PAYLOAD, row.content, count=1)
        version = ctx.session.get(ProcessDefinition, row.definition_id).version
    return f"/designer/processes/clue_handling/{version}/file/clue_handling.bpmn"


def test_a_raw_definition_is_a_download_and_its_script_does_not_run(page: Page, sign_in: SignIn,
                                                                    live_engine: Engine) -> None:
    url = plant(live_engine)
    sign_in("admin")
    before = page.url
    with page.expect_download() as caught:
        page.evaluate("url => { window.location.href = url; }", url)
    download = caught.value
    assert download.suggested_filename.endswith("clue_handling.bpmn")
    page.wait_for_timeout(500)
    assert page.url == before  # the browser stayed on our page: nothing was rendered
    assert page.evaluate("localStorage.getItem('pwned')") is None
    headers = page.request.get(url).headers
    assert headers["content-disposition"].startswith("attachment")
    assert headers["content-type"] == "application/octet-stream" and headers["x-content-type-options"] == "nosniff"
