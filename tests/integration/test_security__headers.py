"""Issue 18 item 1: raw definitions are downloads, and every response carries the security headers."""
from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions


def assert_download(answer, name: str) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200
    assert answer.mimetype == "application/octet-stream"
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and name in disposition
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_deployed_definition_file_is_a_download(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    for suffix in ("", "?download=1"):
        answer = client.get(f"/designer/processes/clue_handling/1/file/clue_handling.bpmn{suffix}")
        assert_download(answer, "clue_handling-v1-clue_handling.bpmn")
        assert b'id="clue_handling"' in answer.data


def test_an_instance_diagram_is_a_download(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    auth.login("office")
    answer = client.get(f"/instances/{clue.instance_id}/diagram.bpmn")
    assert_download(answer, f"instance-{clue.instance_id}.bpmn")
    assert b'id="clue_handling"' in answer.data


def test_a_file_name_cannot_break_out_of_the_header(app) -> None:  # type: ignore[no-untyped-def]
    from webui.downloads import attachment
    with app.test_request_context():
        answer = attachment(b"x", 'a";\r\nSet-Cookie: x=1;\u6d41\u7a0b.bpmn')
    disposition = answer.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and '";' not in disposition.split("filename=")[1][:3]
    assert "filename*=UTF-8''" in disposition


def test_an_upload_with_an_xhtml_script_is_refused_on_the_page(client: FlaskClient, auth: AuthActions) -> None:
    from tests.unit.test_definitions__active_markup import with_extension
    auth.login("designer")
    hostile = with_extension('<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>')
    answer = client.post("/designer/deploy", data={"files": [(io.BytesIO(hostile.encode()), "x.bpmn")]},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "XHTML" in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/auth/login", "/inbox/", "/ledger/", "/api/clues", "/ledger/export.xlsx",
                                  "/designer/processes/clue_handling/1/file/clue_handling.bpmn", "/no-such-page"])
def test_every_response_carries_the_security_headers(client: FlaskClient, auth: AuthActions, path: str) -> None:
    auth.login("office")
    answer = client.get(path)
    headers = answer.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy and "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_static_files_may_be_cached_but_are_not_sniffed(client: FlaskClient) -> None:
    answer = client.get("/static/forms.js")
    assert answer.status_code == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers.get("Cache-Control") != "no-store"


def test_no_template_has_inline_script_or_handlers(app) -> None:  # type: ignore[no-untyped-def]
    import re
    from pathlib import Path
    root = Path(app.root_path) / "templates"
    for template in root.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)
        assert not re.search(r"\s(hx-on[:-]|on[a-z]+=)", text), template
