"""Issue 18 item 1: BPMN/DMN carrying markup a browser would run is refused at upload, naming it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import Engine

from .test_definitions__hostile import process_ids, rejected

DATA = Path(__file__).resolve().parents[1] / "data" / "definitions"
VALID = (DATA / "valid_script.bpmn").read_text(encoding="utf-8")
TASK = '<bpmn:incoming>Flow_1</bpmn:incoming>'


def with_extension(markup: str, namespaces: str = "") -> str:
    text = VALID.replace(TASK, f"<bpmn:extensionElements>{markup}</bpmn:extensionElements>{TASK}", 1)
    return text.replace("<bpmn:definitions ", f"<bpmn:definitions {namespaces} ", 1)


CASES = [
    pytest.param(with_extension('<html:script xmlns:html="http://www.w3.org/1999/xhtml">'
                                'fetch("/admin/users",{method:"POST"})</html:script>'), r"XHTML.*<script>", id="xhtml-script"),
    pytest.param(with_extension('<x:div xmlns:x="http://www.w3.org/1999/xhtml"><x:img src="x"/></x:div>'),
                 r"XHTML.*<div>", id="xhtml-any"),
    pytest.param(with_extension('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), r"SVG.*<svg>", id="svg"),
    pytest.param(with_extension('<f:script xmlns:f="urn:foreign">alert(1)</f:script>'), r"<script>", id="foreign-script"),
    pytest.param(with_extension('<f:thing xmlns:f="urn:foreign" onmouseover="alert(1)"/>'),
                 r"<thing>.*onmouseover", id="foreign-handler"),
    pytest.param(VALID.replace('name="计算"', 'name="计算" xmlns:f="urn:foreign" f:OnClick="alert(1)"'),
                 r"OnClick", id="foreign-handler-on-bpmn-element"),
    pytest.param(VALID.replace("?>", '?>\n<?xml-stylesheet type="text/xsl" href="data:x"?>', 1),
                 r"xml-stylesheet", id="xml-stylesheet"),
]


@pytest.mark.parametrize(("content", "reason"), CASES)
def test_markup_a_browser_would_run_is_refused(engine: Engine, content: str, reason: str) -> None:
    problems = rejected(engine, [("hostile.bpmn", content)])
    assert any(re.search(reason, p["reason"]) and "拒绝" in p["reason"] for p in problems), problems
    if "xml-stylesheet" not in reason:
        assert "Script_ok" in {p["element_id"] for p in problems}
    assert "test_valid_script" not in process_ids(engine)


def test_harmless_extension_markup_is_deployed(engine: Engine) -> None:
    content = with_extension('<spiffworkflow:properties><spiffworkflow:property name="online" value="1"/>'
                             '</spiffworkflow:properties>')
    engine.deploy([("ok.bpmn", content)], "designer")
    assert "test_valid_script" in process_ids(engine)
