"""Units' contact registration (unit_reporting.bpmn Task_contacts) is due at the end of the
campaign's investigation phase and is reminded, chased and escalated like any other task."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from engine import Engine
from engine.clock import SHANGHAI, parse_moment
from engine.db.models import HumanTask, InstanceEvent, ProcessInstance
from engine.ladder import advance_ladder
from engine.notifications import list_notifications

CONTACTS = {"leader_name": "王强", "leader_title": "副区长", "contact_name": "张伟", "contact_phone": "13800000001"}


def contacts_task(engine: Engine, unit: str) -> HumanTask:
    with engine.transaction() as ctx:
        row = ctx.session.scalar(select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                                 .where(ProcessInstance.business_key.like(f"%:{unit}"),
                                        HumanTask.spec_name == "Task_contacts"))
        assert row is not None, unit
        ctx.session.expunge(row)
        return row


def ladder_events(engine: Engine, instance_id: int) -> list[tuple[str, str]]:
    with engine.transaction() as ctx:
        events = ctx.session.scalars(select(InstanceEvent).where(
            InstanceEvent.instance_id == instance_id, InstanceEvent.kind.in_(["reminder", "chase", "escalation"]),
            InstanceEvent.element_id == "Task_contacts").order_by(InstanceEvent.seq))
        return [(e.at.astimezone(SHANGHAI).strftime("%m-%d"), e.data["step"]) for e in events]


def walk(engine: Engine, first: str, last: str) -> None:
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        engine.clock.set(parse_moment(f"{day.isoformat()}T00:00:01"))  # type: ignore[attr-defined]
        engine.fire_due_timers()
        engine.run(advance_ladder)
        day += timedelta(days=1)


def test_contact_registration_is_due_at_the_end_of_the_investigation_phase(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    row = contacts_task(engine, "zengdu")
    # plan_2023: investigation until 2023-10-20, so due at its end in Asia/Shanghai
    assert row.due_at == parse_moment("2023-10-21")
    assert engine.show_task(row.id, "unit")["due_at"] == "2023-10-20T16:00:00+00:00"


def test_late_contacts_are_reminded_chased_and_escalated_until_registered(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    zengdu, suixian = contacts_task(engine, "zengdu"), contacts_task(engine, "suixian")
    engine.complete_task(zengdu.id, "unit", CONTACTS)  # on time: no ladder at all
    walk(engine, "2023-10-17", "2023-11-01")
    assert ladder_events(engine, zengdu.instance_id) == []
    assert ladder_events(engine, suixian.instance_id) == [
        ("10-18", "reminder_3d"), ("10-20", "reminder_1d"), ("10-21", "chase"),
        ("10-22", "escalation_unit_leader"), ("11-01", "escalation_office")]  # no work group for a unit's own report
    told = {n["kind"] for n in engine.run(list_notifications, "unit_suixian", 1, 100)["items"]}
    assert {"reminder_3d", "reminder_1d", "chase", "escalation_unit_leader"} <= told
    assert "escalation_office" in {n["kind"] for n in engine.run(list_notifications, "office", 1, 200)["items"]}
    assert not any(n["link"] and zengdu.id in n["link"]
                   for n in engine.run(list_notifications, "unit", 1, 100)["items"])
    engine.complete_task(suixian.id, "unit_suixian", CONTACTS)
    walk(engine, "2023-11-02", "2023-11-20")
    assert len(ladder_events(engine, suixian.instance_id)) == 5  # the ladder stopped with the registration
