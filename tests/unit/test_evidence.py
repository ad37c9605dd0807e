"""Evidence files of a clue: who may attach and read them, which files are refused, and that
the history chain and the stored bytes vouch for each other."""
from __future__ import annotations

import hashlib
import io
import struct
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from engine import Engine, EngineError, Forbidden, NotFound, ValidationFailed
from engine import access, evidence
from engine.db.models import Clue, Evidence, Role, User

from ..factories import ClueDriver

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 24
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
HTML = "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".encode()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def png() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def ooxml(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, text in parts.items():
            package.writestr(name, text)
    return out.getvalue()


def docx(**extra: str) -> bytes:
    return ooxml({"[Content_Types].xml": "<Types/>", "_rels/.rels": "<Relationships/>",
                  "word/document.xml": "<w:document/>", **extra})


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "付款凭证"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sm3(content: bytes) -> str:
    return hashlib.new("sm3", content).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def clue(engine: Engine) -> ClueDriver:
    """An arrears_public clue assigned to zengdu (user `unit`), in rectification."""
    driver = ClueDriver(engine)
    driver.triage()
    driver.assign(unit="zengdu")
    return driver


def attach(engine: Engine, store: Path, username: str, clue_id: int, name: str, content: bytes,
           **options: Any) -> dict[str, Any]:
    with engine.transaction() as ctx:
        return evidence.attach_evidence(ctx, username, clue_id, name, content, storage_dir=store, **options)


def listed(engine: Engine, username: str, clue_id: int) -> list[dict[str, Any]]:
    with engine.transaction() as ctx:
        return evidence.list_evidence(ctx, username, clue_id)


def download(engine: Engine, store: Path, username: str, evidence_id: int) -> tuple[dict[str, Any], bytes]:
    with engine.transaction() as ctx:
        return evidence.open_evidence(ctx, username, evidence_id, storage_dir=store)


def stored_files(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.exists() else []


def evidence_events(engine: Engine, clue_id: int) -> list[dict[str, Any]]:
    return [e for e in engine.clue_history(clue_id)["events"] if e["kind"] == "evidence_attached"]


def evidence_rows(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return int(ctx.session.scalar(select(func.count()).select_from(Evidence)) or 0)


# --- attaching and reading ------------------------------------------------------------------
def test_unit_attaches_pdf_and_png_to_its_clue(engine: Engine, clue: ClueDriver, store: Path) -> None:
    image = png()
    pdf = attach(engine, store, "unit", clue.clue_id, "还款协议.pdf", PDF)
    photo = attach(engine, store, "unit", clue.clue_id, "现场照片.png", image)

    assert pdf["media_type"] == "application/pdf" and pdf["size"] == len(PDF) and pdf["hash"] == sm3(PDF)
    assert photo["media_type"] == "image/png" and photo["uploaded_by"] == "unit" and photo["clue_id"] == clue.clue_id
    assert pdf["stage"] == "rectifying" and pdf["uploaded_at"].startswith("2023-10-17")
    assert [e["filename"] for e in listed(engine, "unit", clue.clue_id)] == ["还款协议.pdf", "现场照片.png"]
    # Content-addressed, outside the database.
    assert stored_files(store) == sorted([store / sm3(PDF)[:2] / sm3(PDF), store / sm3(image)[:2] / sm3(image)])
    assert (store / sm3(PDF)[:2] / sm3(PDF)).read_bytes() == PDF

    events = evidence_events(engine, clue.clue_id)
    assert [(e["actor"], e["actor_role"], e["task_id"]) for e in events] == [("unit", "unit", None)] * 2
    assert events[0]["data"] == {"evidence_id": pdf["id"], "filename": "还款协议.pdf", "media_type": "application/pdf",
                                 "size": len(PDF), "hash": sm3(PDF), "hash_alg": "sm3"}
    assert events[1]["data"]["hash"] == sm3(image)
    assert engine.verify_history()["intact"] is True

    summary, content = download(engine, store, "unit", photo["id"])
    assert content == image and summary == photo


def test_other_unit_can_neither_list_download_nor_attach(engine: Engine, clue: ClueDriver, store: Path) -> None:
    pdf = attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    with pytest.raises(Forbidden):
        listed(engine, "unit_suixian", clue.clue_id)
    with pytest.raises(Forbidden):
        download(engine, store, "unit_suixian", pdf["id"])
    with pytest.raises(Forbidden):
        attach(engine, store, "unit_suixian", clue.clue_id, "伪造.png", png())
    assert len(stored_files(store)) == 1 and evidence_rows(engine) == 1
    assert len(evidence_events(engine, clue.clue_id)) == 1


@pytest.mark.parametrize("reader", ["office", "supervisor", "discipline", "admin", "group"])
def test_those_who_see_the_clue_can_download(engine: Engine, clue: ClueDriver, store: Path, reader: str) -> None:
    pdf = attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    summary, content = download(engine, store, reader, pdf["id"])
    assert content == PDF and summary["hash"] == sm3(PDF)
    assert [e["id"] for e in listed(engine, reader, clue.clue_id)] == [pdf["id"]]


@pytest.mark.parametrize("reader", ["designer", "group_policy", "spotcheck_policy", "unit_suixian"])
def test_those_who_do_not_see_the_clue_cannot_list(engine: Engine, clue: ClueDriver, reader: str) -> None:
    with pytest.raises(Forbidden):
        listed(engine, reader, clue.clue_id)


@pytest.mark.parametrize("who", ["office", "group", "spotcheck"])
def test_handlers_can_attach(engine: Engine, clue: ClueDriver, store: Path, who: str) -> None:
    made = attach(engine, store, who, clue.clue_id, "书面反馈.pdf", PDF)
    assert made["uploaded_by"] == who
    assert evidence_events(engine, clue.clue_id)[0]["actor_role"] == who


@pytest.mark.parametrize("who", ["supervisor", "discipline", "admin", "designer"])
def test_readers_cannot_attach(engine: Engine, clue: ClueDriver, store: Path, who: str) -> None:
    with pytest.raises(Forbidden):
        attach(engine, store, who, clue.clue_id, "合同.pdf", PDF)
    assert stored_files(store) == [] and evidence_rows(engine) == 0


def test_unit_cannot_attach_before_the_clue_is_assigned_to_it(engine: Engine, store: Path) -> None:
    fresh = ClueDriver(engine)
    with pytest.raises(Forbidden):
        attach(engine, store, "unit", fresh.clue_id, "合同.pdf", PDF)
    assert attach(engine, store, "office", fresh.clue_id, "来信.pdf", PDF)["stage"] == "triage"


def test_office_led_clue_is_hidden_from_groups(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage(category="promise")
    assert clue.show()["work_group"] == "office"
    with pytest.raises(Forbidden):
        listed(engine, "group", clue.clue_id)
    assert listed(engine, "office", clue.clue_id) == []


@pytest.mark.parametrize(("role", "unit", "group", "work_group", "responsible", "sees"), [
    (Role.office, None, None, None, None, True),
    (Role.supervisor, None, None, "policy", "suixian", True),
    (Role.discipline, None, None, "policy", "suixian", True),
    (Role.admin, None, None, None, None, True),
    (Role.designer, None, None, "policy", "suixian", False),
    (Role.group, None, "policy", "policy", None, True),
    (Role.group, None, "policy", "investment", None, False),
    (Role.spotcheck, None, "policy", "policy", "zengdu", True),
    (Role.group, None, None, None, None, False),
    (Role.unit, "zengdu", None, "policy", "zengdu", True),
    (Role.unit, "zengdu", None, "policy", "suixian", False),
    (Role.unit, None, None, "policy", None, False),
])
def test_can_see_clue_is_a_pure_rule(role: Role, unit: str | None, group: str | None, work_group: str | None,
                                     responsible: str | None, sees: bool) -> None:
    user = User(username="u", display_name="u", role=role, unit_code=unit, group_code=group)
    assert access.can_see_clue(user, Clue(id=1, work_group=work_group, responsible_unit=responsible)) is sees


def test_task_id_links_the_event_and_must_be_a_task_of_the_clue(engine: Engine, clue: ClueDriver,
                                                                store: Path) -> None:
    plan = clue.task_id("Task_plan")
    made = attach(engine, store, "unit", clue.clue_id, "整改方案.pdf", PDF, task_id=plan)
    assert made["task_id"] == plan and evidence_events(engine, clue.clue_id)[0]["task_id"] == plan
    other = ClueDriver(engine)
    with pytest.raises(ValidationFailed) as refused:
        attach(engine, store, "unit", clue.clue_id, "x.pdf", PDF, task_id=other.task_id("Task_triage"))
    assert "task_id" in refused.value.fields
    assert evidence_rows(engine) == 1


def test_same_bytes_twice_share_one_file(engine: Engine, clue: ClueDriver, store: Path) -> None:
    first = attach(engine, store, "unit", clue.clue_id, "凭证.pdf", PDF)
    second = attach(engine, store, "office", clue.clue_id, "凭证副本.pdf", PDF)
    assert first["id"] != second["id"] and first["hash"] == second["hash"]
    assert len(stored_files(store)) == 1
    assert download(engine, store, "office", second["id"])[1] == PDF


@pytest.mark.parametrize(("name", "content", "media_type"), [
    ("照片.JPG", JPEG, "image/jpeg"),
    ("照片.jpeg", JPEG, "image/jpeg"),
    ("照片.webp", WEBP, "image/webp"),
    ("情况说明.txt", "企业反映：款项已于11月10日全部支付。\n".encode(), "text/plain"),
    pytest.param("书面反馈.docx", docx(), evidence.DOCX),
    pytest.param("台账.xlsx", xlsx(), evidence.XLSX),
])
def test_accepted_types(engine: Engine, clue: ClueDriver, store: Path, name: str, content: bytes,
                        media_type: str) -> None:
    made = attach(engine, store, "unit", clue.clue_id, name, content)
    assert made["media_type"] == media_type
    assert download(engine, store, "unit", made["id"])[1] == content


def test_office_documents_are_recognised_without_the_database() -> None:
    assert evidence.detect_media_type("a.docx", docx()) == evidence.DOCX
    assert evidence.detect_media_type("a.xlsx", xlsx()) == evidence.XLSX
    # filetype says only "zip" when [Content_Types].xml is not the first part; the package decides.
    late = ooxml({"_rels/.rels": "<r/>", "docProps/app.xml": "<a/>", "docProps/core.xml": "<c/>",
                  "customXml/item1.xml": "<i/>", "customXml/item2.xml": "<i/>",
                  "[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"})
    assert evidence.detect_media_type("a.docx", late) == evidence.DOCX


def test_concurrent_uploads_take_distinct_history_seqs(engine: Engine, clue: ClueDriver, store: Path) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def upload(n: int) -> None:
        start.wait()
        try:
            attach(engine, store, "unit", clue.clue_id, f"凭证{n}.txt", f"第{n}张凭证".encode())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(evidence_events(engine, clue.clue_id)) == 4 and evidence_rows(engine) == 4
    assert engine.verify_history()["intact"] is True


# --- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "content", "says"), [
    ("contract.pdf", png(), "PNG"),
    ("照片.png", PDF, "PDF"),
    ("setup.exe", EXE, "EXE"),
    ("合同.pdf", EXE, "EXE"),
    ("空文件.pdf", b"", "为空"),
    ("页面.html", HTML, "HTML"),
    ("页面.txt", HTML, "HTML"),
    ("图标.svg", SVG, "SVG"),
    ("说明.txt", "企业反映".encode("gbk"), "UTF-8"),
    ("说明.txt", b"abc\x00def", "无法识别"),
    ("说明.md", "# 说明".encode(), ".md"),
    ("资料.zip", ooxml({"a.txt": "x"}), "ZIP"),
    ("资料.docx", ooxml({"a.txt": "x"}), "Word"),
    ("台账.xlsx", docx(), "Word"),
    ("书面反馈.docx", xlsx(), "Excel"),
    ("宏.docx", docx(**{"word/vbaProject.bin": "x"}), "宏"),
    ("损坏.docx", docx()[:200], "Word"),
])
def test_refused_files_leave_no_trace(engine: Engine, clue: ClueDriver, store: Path, name: str, content: bytes,
                                      says: str) -> None:
    before = engine.clue_history(clue.clue_id)["events"]
    with pytest.raises(ValidationFailed) as refused:
        attach(engine, store, "unit", clue.clue_id, name, content)
    assert says in refused.value.fields["file"]
    assert stored_files(store) == [] and evidence_rows(engine) == 0
    assert engine.clue_history(clue.clue_id)["events"] == before


def test_pdf_named_pdf_but_png_names_the_real_type(engine: Engine, clue: ClueDriver, store: Path) -> None:
    with pytest.raises(ValidationFailed) as refused:
        attach(engine, store, "unit", clue.clue_id, "contract.pdf", png())
    assert refused.value.fields == {"file": "文件实际为 PNG 图片，与扩展名 .pdf 不符"}


def test_size_limit(engine: Engine, clue: ClueDriver, store: Path) -> None:
    content = PDF + b"%" * (100 - len(PDF))
    assert attach(engine, store, "unit", clue.clue_id, "正好.pdf", content, max_bytes=100)["size"] == 100
    with pytest.raises(ValidationFailed) as refused:
        attach(engine, store, "unit", clue.clue_id, "太大.pdf", content + b"%", max_bytes=100)
    assert "超过 100 字节 上限" in refused.value.fields["file"]
    assert len(stored_files(store)) == 1 and evidence_rows(engine) == 1


def test_default_limit_comes_from_settings(engine: Engine) -> None:
    with engine.transaction() as ctx:
        assert evidence.max_evidence_bytes(ctx) == getattr(engine.settings, "evidence_max_bytes", 20 * 1024 * 1024)
        assert evidence.evidence_dir(ctx) == Path(getattr(engine.settings, "evidence_dir",
                                                          evidence.DEFAULT_EVIDENCE_DIR))


def test_unknown_clue_user_and_evidence(engine: Engine, store: Path) -> None:
    with pytest.raises(NotFound):
        attach(engine, store, "unit", 999, "合同.pdf", PDF)
    with pytest.raises(NotFound):
        listed(engine, "nobody", 1)
    with pytest.raises(NotFound):
        download(engine, store, "office", 999)


# --- stored bytes ---------------------------------------------------------------------------
def test_tampered_file_is_detected_on_download(engine: Engine, clue: ClueDriver, store: Path) -> None:
    pdf = attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    path = store / pdf["hash"][:2] / pdf["hash"]
    path.write_bytes(PDF.replace(b"Catalog", b"Catalug"))  # same size, different bytes
    with pytest.raises(EngineError, match="evidence file altered"):
        download(engine, store, "office", pdf["id"])
    path.unlink()
    with pytest.raises(EngineError, match="evidence file missing"):
        download(engine, store, "office", pdf["id"])


def test_reupload_repairs_an_altered_copy(engine: Engine, clue: ClueDriver, store: Path) -> None:
    pdf = attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    (store / pdf["hash"][:2] / pdf["hash"]).write_bytes(b"garbage")
    attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    assert download(engine, store, "office", pdf["id"])[1] == PDF
    assert [p.name for p in (store / pdf["hash"][:2]).iterdir()] == [pdf["hash"]]  # no temp file left


def test_edited_storage_key_is_refused(engine: Engine, clue: ClueDriver, store: Path) -> None:
    pdf = attach(engine, store, "unit", clue.clue_id, "合同.pdf", PDF)
    with engine.transaction() as ctx:
        row = ctx.session.get(Evidence, pdf["id"])
        assert row is not None
        row.storage_key = "../../etc/passwd"
    with pytest.raises(EngineError, match="not valid"):
        download(engine, store, "office", pdf["id"])


# --- file names -----------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "kept"), [
    ("合同.pdf", "合同.pdf"),
    ("../../etc/合同.pdf", "合同.pdf"),
    ("C:\\Users\\张伟\\Desktop\\付款凭证.pdf", "付款凭证.pdf"),
    ("合\x00同\r\n.pdf", "合同.pdf"),
    ("凭证\u202efdp.exe", "凭证fdp.exe"),
    ("  现场照片.png  ", "现场照片.png"),
])
def test_clean_filename(given: str, kept: str) -> None:
    assert evidence.clean_filename(given) == kept


def test_long_names_keep_their_extension() -> None:
    cleaned = evidence.clean_filename("关于" * 150 + ".pdf")
    assert len(cleaned) == 200 and cleaned.endswith(".pdf")


@pytest.mark.parametrize("given", ["", "/", "..", "a/b/", "\x00\x01"])
def test_empty_names_are_refused(given: str) -> None:
    with pytest.raises(ValidationFailed):
        evidence.clean_filename(given)


def test_stored_name_is_the_cleaned_one(engine: Engine, clue: ClueDriver, store: Path) -> None:
    made = attach(engine, store, "unit", clue.clue_id, "../../../tmp/现场\x07照片.png", png())
    assert made["filename"] == "现场照片.png"
    assert not (store.parent / "tmp").exists()
