"""Issue 18 item 10: two users claiming one task at once — exactly one holds it, the other hears Conflict."""
from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from engine import Conflict, Engine, access
from engine.db.models import HumanTask

from ..factories import ClueDriver

ROUNDS = 20


def test_simultaneous_claims_have_exactly_one_winner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.create_users([("office2", "综合办公室 李强", "office", None, None)], password="Chengxin#2023")
    task_id = ClueDriver(engine).task_id("Task_triage")
    postgresql = engine.sql_engine.dialect.name == "postgresql"
    inside = threading.Barrier(2)
    checked = access.require_can_act

    def both_have_read(user: Any, row: Any) -> None:
        checked(user, row)
        # Both transactions have read the row before either writes: the interleaving that lost an
        # update. (SQLite's BEGIN IMMEDIATE already runs them one after the other.)
        if postgresql and threading.current_thread().name.startswith("claim-"):
            inside.wait(timeout=10)

    monkeypatch.setattr(access, "require_can_act", both_have_read)
    for round_ in range(ROUNDS):
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def claim(username: str) -> None:
            start.wait(timeout=10)
            try:
                engine.claim_task(task_id, username)
                outcomes[username] = "won"
            except Conflict:
                outcomes[username] = "conflict"

        threads = [threading.Thread(target=claim, args=(u,), name=f"claim-{u}") for u in ("office", "office2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        winners = [u for u, outcome in outcomes.items() if outcome == "won"]
        assert sorted(outcomes.values()) == ["conflict", "won"], (round_, outcomes)
        with engine.transaction() as ctx:
            assert ctx.session.scalar(select(HumanTask.claimed_by).where(HumanTask.id == task_id)) == winners[0]
        engine.release_task(task_id, winners[0])


def test_claim_and_release_keep_their_rules(engine: Engine) -> None:
    engine.create_users([("office2", "综合办公室 李强", "office", None, None)], password="Chengxin#2023")
    task_id = ClueDriver(engine).task_id("Task_triage")
    assert engine.claim_task(task_id, "office")["claimed_by"] == "office"
    assert engine.claim_task(task_id, "office")["claimed_by"] == "office"  # claiming again is harmless
    with pytest.raises(Conflict, match="claimed by office"):
        engine.claim_task(task_id, "office2")
    with pytest.raises(Conflict, match="not claimed by office2"):
        engine.release_task(task_id, "office2")
    assert engine.release_task(task_id, "office")["claimed_by"] is None
    assert engine.claim_task(task_id, "office2")["claimed_by"] == "office2"


def test_a_task_completed_while_being_claimed_is_a_conflict(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import delete

    from engine import tasks
    task_id = ClueDriver(engine).task_id("Task_triage")
    checked = access.require_can_act

    def gone_meanwhile(user: Any, row: Any) -> None:
        checked(user, row)
        # What a concurrent completion does to the projection after this claim has read it.
        session = row._sa_instance_state.session
        session.execute(delete(HumanTask).where(HumanTask.id == row.id).execution_options(synchronize_session=False))

    monkeypatch.setattr(access, "require_can_act", gone_meanwhile)
    with pytest.raises(Conflict, match="no longer ready"):
        engine.run(tasks.claim_task, task_id, "office")
