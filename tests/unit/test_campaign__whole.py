"""The 2023 campaign from the notice's issue (10-17) to its end (12-31), clock moved, timers included."""
from __future__ import annotations

from sqlalchemy import func, select

from engine import Engine
from engine.db.models import Clue, HumanTask, ProcessInstance

from ..factories import ClueDriver
from .test_reporting__units import CONTACTS, only

DAYS = ["2023-10-18", "2023-10-20", "2023-10-21", "2023-10-25", "2023-11-01", "2023-11-15", "2023-11-21",
        "2023-11-30", "2023-12-01", "2023-12-05", "2023-12-15", "2023-12-31", "2024-01-01"]


def test_whole_2023_campaign(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    engine.complete_task(only(engine, "unit", "Task_contacts"), "unit", CONTACTS)
    # 10-18: the self-inspection list arrives in time and brings two clues with it.
    engine.clock.set("2023-10-18T10:00:00")  # type: ignore[attr-defined]
    rows = [{"enterprise_name": f"随州市自查企业{i}有限公司", "debtor": "曾都区住建局", "summary": "工程款拖欠",
             "amount_owed": 10000 * i} for i in (1, 2)]
    engine.complete_task(only(engine, "unit", "Task_self_inspection"), "unit", {"none_found": False, "problems": rows})
    # Clues from other channels, each heading for a different end.
    closes, checked, overdue, fake, rejected = (ClueDriver(engine, enterprise_name=f"随州市企业{n}有限公司")
                                                for n in "ABCDE")
    rejected.do("Task_triage", "office", {"accepted": False, "reject_reason": "不属于专项行动范围"})
    for clue in (closes, checked, overdue, fake):
        clue.triage(key=clue is not closes)
        clue.assign(deadline="2023-11-20")
        clue.plan()
    for clue in (closes, checked, fake):
        clue.report()
        clue.review(approved=True)
    for day in DAYS:
        engine.clock.set(f"{day}T09:00:00")  # type: ignore[attr-defined]
        engine.fire_due_timers()
        if day == "2023-11-21":
            assert overdue.ready() == ["Task_chase", "Task_report"]
        if day == "2023-11-30":
            overdue.report()
            overdue.review(approved=True)
            assert checked.stage == "awaiting_spot_check" and overdue.stage == "awaiting_spot_check"
        if day == "2023-12-05":
            assert checked.stage == "spot_check"
            checked.spot_check("genuine")
            overdue.spot_check("superficial", new_deadline="2023-12-20")
            fake.spot_check("fake", new_deadline="2023-12-20")
            fake.do("Task_referral", "discipline", {"received": True})
        if day == "2023-12-15":
            for clue in (overdue, fake):
                clue.report()
                clue.review(approved=True)
                clue.spot_check("genuine")
        if day == "2023-12-31":
            engine.complete_task(only(engine, "unit", "Task_summary"), "unit", {"summary": "全年工作总结"})
    assert {c.stage for c in (closes, checked, overdue, fake)} == {"closed"}
    assert rejected.stage == "rejected" and fake.show()["referred"] is True
    assert overdue.show()["sendback_count"] == 1
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(func.count()).select_from(Clue)) == 7
        statuses = dict(ctx.session.execute(select(ProcessInstance.business_key, ProcessInstance.status)).all())
        # Every other unit never reported: each is left with a summary reminder for the office.
        open_tasks = ctx.session.scalars(select(HumanTask.spec_name)).all()
    assert statuses["1:zengdu"].value == "completed"
    assert all(statuses[str(c.clue_id)].value == "completed" for c in (closes, checked, overdue, fake, rejected))
    assert "Task_remind_summary" not in open_tasks  # no unit reached the summary late except zengdu, who reported
    assert engine.verify_history()["intact"] is True
