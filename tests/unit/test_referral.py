"""engine/referral.py: the referral dossier of a referred clue (transfer letter, registration form,
evidence list, timeline, head hash) opened with python-docx, and its receipt by the discipline
office — recorded once, in the verified history and its own table."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import select

from engine import Conflict, Engine, Forbidden, ValidationFailed
from engine.db.models import InstanceEvent, ProcessInstance
from engine.db.report_models import ReferralReceipt
from engine.evidence import attach_evidence
from engine.history import events_of, verify_instance
from engine.notifications import list_notifications
from engine.referral import build_dossier, list_referrals, record_receipt, referral_of

from ..factories import ClueDriver
from .test_case_file import ARTIFACTS, instance_of, table_starting, values

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def referred(engine: Engine, tmp_path: Path) -> ClueDriver:
    clue = ClueDriver(engine, debtor="曾都区某局", amount_owed=560000)
    clue.to_spot_check()
    engine.run(attach_evidence, "spotcheck", clue.clue_id, "现场照片说明.pdf", PDF, storage_dir=tmp_path)
    clue.spot_check("fake", misconduct=True)
    return clue


def dossier(engine: Engine, clue: ClueDriver, role: str = "office") -> Document:
    content, filename = engine.run(build_dossier, role, clue.clue_id)
    assert filename == f"移送材料_线索{clue.clue_id}.docx"
    return Document(BytesIO(content))


def test_the_dossier_holds_letter_form_evidence_timeline_and_hash(engine: Engine, referred: ClueDriver) -> None:
    content, _ = engine.run(build_dossier, "office", referred.clue_id)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "referral_dossier.docx").write_bytes(content)
    document = Document(BytesIO(content))
    letter = "\n".join(p.text for p in document.paragraphs)
    assert "关于移送问题线索的函" in letter and "问题线索移交登记表" in letter
    assert f"线索编号 #{referred.clue_id}" in letter and "曾都区某局" in letter and "虚假整改" in letter
    assert "证据材料清单（共 1 件）" in letter

    count, head, events = instance_of(engine, referred.instance_id)
    form = values(table_starting(document, "移送编号"))
    assert form["线索编号"] == f"#{referred.clue_id}" and form["被反映单位（失信主体）"] == "曾都区某局"
    assert form["反映企业"] == "随州市恒达建材有限公司" and form["欠款金额"] == "560,000.00 元"
    assert form["抽查结论"] == "虚假整改" and form["干部作风问题"] == "是" and form["抽查人"].endswith("刘洋")
    assert "虚假整改" in form["移送理由"] and "干部作风问题" in form["移送理由"]
    assert form["历史记录链头哈希"] == f"SM3：{head}" and head in letter
    assert form["历史记录"] == f"{count} 条（见办理过程记录）" and form["签收人"] == ""

    evidence = table_starting(document, "序号")
    assert [c.text for c in evidence.rows[0].cells][:3] == ["序号", "文件名", "类型"]
    assert evidence.rows[1].cells[1].text == "现场照片说明.pdf" and len(evidence.rows) == 2
    timeline = next(t for t in document.tables if t.rows[0].cells[-1].text == "内容")
    assert len(timeline.rows) - 1 == events == count


def test_only_a_referred_clue_has_a_dossier(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    with pytest.raises(Conflict):
        engine.run(build_dossier, "office", clue.clue_id)
    with pytest.raises(Conflict):
        engine.run(record_receipt, "discipline", clue.clue_id, "")
    assert engine.run(referral_of, "office", clue.clue_id)["referred"] is False


def test_who_may_prepare_and_who_may_receive(engine: Engine, referred: ClueDriver) -> None:
    assert dossier(engine, referred, "discipline").tables
    for role in ("unit", "group", "spotcheck", "supervisor", "admin", "designer"):
        with pytest.raises(Forbidden):
            engine.run(build_dossier, role, referred.clue_id)
        with pytest.raises(Forbidden):
            engine.run(referral_of, role, referred.clue_id)
    for role in ("office", "supervisor", "unit", "spotcheck"):
        with pytest.raises(Forbidden):
            engine.run(record_receipt, role, referred.clue_id, "")
    assert engine.run(referral_of, "discipline", referred.clue_id)["may_receive"] is True
    assert engine.run(referral_of, "office", referred.clue_id)["may_receive"] is False


def test_the_receipt_is_recorded_once_in_the_verified_history(engine: Engine, referred: ClueDriver,
                                                               clock) -> None:  # type: ignore[no-untyped-def]
    _, head_before, _ = instance_of(engine, referred.instance_id)
    clock.advance(hours=3)
    receipt = engine.run(record_receipt, "discipline", referred.clue_id, "  材料齐全，已签收  ")
    assert receipt["received_by"] == "discipline" and receipt["note"] == "材料齐全，已签收"
    assert receipt["history_head_before"] == head_before
    with pytest.raises(Conflict):
        engine.run(record_receipt, "discipline", referred.clue_id, "再签一次")
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, referred.instance_id)
        events = events_of(ctx.session, referred.instance_id)
        assert verify_instance(instance, events) is None
        received = [e for e in events if e.kind == "referral_received"]
        assert len(received) == 1
        # Signing the dossier is the 纪检监察受理 task too: it is completed right after, not left waiting.
        after = events[events.index(received[0]) + 1]
        assert after.kind == "task_completed" and after.element_id == "Task_referral" and after.actor == "discipline"
        assert received[0].actor == "discipline" and received[0].actor_role == "discipline"
        assert received[0].data == {"note": "材料齐全，已签收", "history_head_before": head_before}
        assert received[0].at == clock.now()
        rows = list(ctx.session.scalars(select(ReferralReceipt)))
        assert len(rows) == 1 and rows[0].event_seq == received[0].seq and rows[0].event_hash == received[0].hash
        assert instance.history_head == events[-1].hash
    assert "Task_referral" not in referred.ready()
    # The office hears of it; the next dossier names who signed and when, with the new head hash.
    notes = engine.run(list_notifications, "office", 1, 50)["items"]
    assert any(n["kind"] == "referral_received" for n in notes)
    form = values(table_starting(dossier(engine, referred), "移送编号"))
    assert form["签收人"].endswith("陈静") and form["签收意见"] == "材料齐全，已签收"
    assert form["签收时间"] == "2023-12-02 12:00"
    _, head_after, _ = instance_of(engine, referred.instance_id)
    assert form["历史记录链头哈希"] == f"SM3：{head_after}" and head_after != head_before


def test_a_long_note_is_refused_and_nothing_recorded(engine: Engine, referred: ClueDriver) -> None:
    with pytest.raises(ValidationFailed):
        engine.run(record_receipt, "discipline", referred.clue_id, "长" * 2001)
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(InstanceEvent).where(InstanceEvent.kind == "referral_received")) is None


def test_the_list_of_referrals_filters_on_receipt(engine: Engine, referred: ClueDriver) -> None:
    other = ClueDriver(engine, enterprise_name="乙企业")
    other.to_spot_check()
    other.spot_check("genuine", misconduct=True)
    ClueDriver(engine, enterprise_name="未移送企业").triage()
    engine.run(record_receipt, "discipline", referred.clue_id, "")
    everything = engine.run(list_referrals, "office")
    assert everything["total"] == 2
    assert {i["clue_id"] for i in everything["items"]} == {referred.clue_id, other.clue_id}
    assert all(i["referred_at"] for i in everything["items"])
    assert [i["clue_id"] for i in engine.run(list_referrals, "discipline", True)["items"]] == [referred.clue_id]
    assert [i["clue_id"] for i in engine.run(list_referrals, "discipline", False)["items"]] == [other.clue_id]
    received = engine.run(list_referrals, "discipline", True)["items"][0]["receipt"]
    assert received["received_by_name"].endswith("陈静")
    with pytest.raises(Forbidden):
        engine.run(list_referrals, "supervisor")


def test_the_letters_handler_is_who_referred_not_who_downloads(engine: Engine, referred: ClueDriver) -> None:
    for reader in ("office", "discipline"):
        document = dossier(engine, referred, reader)
        letter = "\n".join(p.text for p in document.paragraphs)
        form = values(table_starting(document, "移送编号"))
        assert form["经办人"] == form["抽查人"] and form["经办人"].endswith("刘洋"), reader
        assert f"经办人：{form['经办人']}" in letter, reader


def test_completing_the_task_is_the_receipt(engine: Engine, referred: ClueDriver) -> None:
    referred.do("Task_referral", "discipline", {"received": True, "note": "已受理"})
    assert engine.run(referral_of, "office", referred.clue_id)["receipt"]["note"] == "已受理"
    with pytest.raises(Conflict):  # nothing left to sign on the dossier page
        engine.run(record_receipt, "discipline", referred.clue_id, "再签一次")
