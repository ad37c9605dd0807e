"""Evidence files through the web UI: the panel, upload, download headers, who may do what."""
from __future__ import annotations

import re
import struct
import zlib
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient

from werkzeug.test import TestResponse

from engine import Engine, clues, evidence

from ..factories import ClueDriver
from .conftest import AuthActions

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
NAME = "还款协议 2023.pdf"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def assigned(web_engine: Engine, unit: str = "zengdu") -> ClueDriver:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign(unit=unit)
    return clue


def upload(client: FlaskClient, clue_id: int, content: bytes, name: str, headers: dict[str, str] | None = None,
           **form: str) -> TestResponse:
    return client.post(f"/evidence/clue/{clue_id}", data={"file": (BytesIO(content), name), **form},
                       content_type="multipart/form-data", headers=headers or {})


def evidence_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/evidence/(\d+)"', html)]


def test_unit_uploads_a_pdf_sees_it_in_the_panel_and_downloads_it(client: FlaskClient, auth: AuthActions,
                                                                  web_engine: Engine, app: Flask) -> None:
    clue = assigned(web_engine)
    auth.login("unit")
    page = client.get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    assert f'hx-get="/evidence/clue/{clue.clue_id}/panel' in page  # loaded by htmx ...
    assert f'href="/evidence/clue/{clue.clue_id}?next=' in page  # ... or followed as a link without JavaScript

    response = upload(client, clue.clue_id, PDF, NAME)
    assert response.status_code == 302 and response.location.endswith(f"/clues/{clue.clue_id}")
    assert NAME in client.get(response.location).get_data(as_text=True)  # the flash message

    panel = client.get(f"/evidence/clue/{clue.clue_id}/panel").get_data(as_text=True)
    [evidence_id] = evidence_ids(panel)
    assert NAME in panel and "PDF 文档" in panel and "unit" in panel and 'data-testid="evidence-upload"' in panel
    stored = web_engine.run(evidence.list_evidence, "unit", clue.clue_id)
    assert stored[0]["hash"][:12] in panel and stored[0]["size"] == len(PDF)
    assert NAME in client.get(f"/evidence/clue/{clue.clue_id}").get_data(as_text=True)  # the page without JS

    download = client.get(f"/evidence/{evidence_id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote(NAME)}" in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"
    assert any(Path(app.config["EVIDENCE_DIR"]).rglob(stored[0]["hash"]))


def test_another_unit_may_neither_download_nor_upload(client: FlaskClient, auth: AuthActions,
                                                      web_engine: Engine) -> None:
    clue = assigned(web_engine)
    auth.login("unit")
    assert upload(client, clue.clue_id, PDF, NAME).status_code == 302
    [evidence_id] = evidence_ids(client.get(f"/evidence/clue/{clue.clue_id}/panel").get_data(as_text=True))
    auth.logout()

    auth.login("unit_suixian")
    assert client.get(f"/evidence/{evidence_id}").status_code == 403
    refused = upload(client, clue.clue_id, PDF, "伪造.pdf")
    assert refused.status_code == 403 and "伪造" not in refused.get_data(as_text=True)
    assert client.get(f"/evidence/clue/{clue.clue_id}/panel").status_code == 403
    assert client.get(f"/evidence/clue/{clue.clue_id}").status_code == 403
    assert len(web_engine.show_clue(clue.clue_id)["tasks"]) == 1
    assert client.get("/evidence/99999").status_code == 404


def test_a_png_named_pdf_is_refused_with_the_message_on_the_clue_page(client: FlaskClient, auth: AuthActions,
                                                                     web_engine: Engine) -> None:
    clue = assigned(web_engine)
    auth.login("unit")
    refused = upload(client, clue.clue_id, png(), "付款凭证.pdf")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'data-testid="clue-summary"' in page  # the clue page ...
    assert re.search(r'data-error="file"[^>]*>文件实际为 PNG 图片，与扩展名 \.pdf 不符<', page)  # ... with the reason
    assert evidence_ids(page) == []
    # With htmx only the panel is swapped, so whatever is typed elsewhere on the page stays.
    fragment = upload(client, clue.clue_id, png(), "付款凭证.pdf", headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)
    assert "与扩展名 .pdf 不符" in fragment.get_data(as_text=True)
    empty = upload(client, clue.clue_id, b"", "")
    assert empty.status_code == 422 and "文件" in empty.get_data(as_text=True)
    assert evidence_ids(client.get(f"/evidence/clue/{clue.clue_id}/panel").get_data(as_text=True)) == []


def test_upload_from_the_task_page_records_the_task(client: FlaskClient, auth: AuthActions,
                                                    web_engine: Engine) -> None:
    clue = assigned(web_engine)
    task_id = clue.task_id("Task_plan")
    auth.login("unit")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f"/evidence/clue/{clue.clue_id}/panel?task_id={task_id}" in page
    panel = client.get(f"/evidence/clue/{clue.clue_id}/panel?task_id={task_id}&next=/tasks/{task_id}")
    html = panel.get_data(as_text=True)
    assert f'name="task_id" value="{task_id}"' in html and f'name="next" value="/tasks/{task_id}"' in html
    done = upload(client, clue.clue_id, PDF, "整改方案.pdf", task_id=task_id, next=f"/tasks/{task_id}")
    assert done.status_code == 302 and done.location.endswith(f"/tasks/{task_id}")
    htmx = upload(client, clue.clue_id, png(), "现场照片.png", task_id=task_id, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "现场照片.png" in htmx.get_data(as_text=True)
    events = [e for e in web_engine.run(clues.clue_history, clue.clue_id)["events"] if e["kind"] == "evidence_attached"]
    assert [(e["task_id"], e["data"]["filename"]) for e in events] == [(task_id, "整改方案.pdf"), (task_id, "现场照片.png")]
    # Somewhere else to go back to is ignored.
    away = upload(client, clue.clue_id, PDF, "另一份.pdf", next="//evil.example/")
    assert away.status_code == 302 and away.location.endswith(f"/clues/{clue.clue_id}")


def test_readers_see_the_list_but_no_upload_form(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    auth.login("unit")
    upload(client, clue.clue_id, PDF, NAME)
    auth.logout()
    auth.login("supervisor")
    panel = client.get(f"/evidence/clue/{clue.clue_id}/panel").get_data(as_text=True)
    assert NAME in panel and 'data-testid="evidence-upload"' not in panel
    [evidence_id] = evidence_ids(panel)
    assert client.get(f"/evidence/{evidence_id}").status_code == 200
    assert upload(client, clue.clue_id, PDF, "监督.pdf").status_code == 403


def test_an_altered_file_is_not_served(client: FlaskClient, auth: AuthActions, web_engine: Engine, app: Flask) -> None:
    clue = assigned(web_engine)
    auth.login("unit")
    upload(client, clue.clue_id, PDF, NAME)
    [evidence_id] = evidence_ids(client.get(f"/evidence/clue/{clue.clue_id}/panel").get_data(as_text=True))
    [stored] = [p for p in Path(app.config["EVIDENCE_DIR"]).rglob("*") if p.is_file()]
    stored.write_bytes(PDF.replace(b"Catalog", b"Catalug"))
    altered = client.get(f"/evidence/{evidence_id}")
    assert altered.status_code == 409 and b"Catalug" not in altered.data
    stored.unlink()
    assert client.get(f"/evidence/{evidence_id}").status_code == 409
