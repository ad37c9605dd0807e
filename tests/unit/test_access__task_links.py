"""Whether a clue's or an instance's open task may be opened by the viewer, so that pages link it only then."""
from __future__ import annotations

from engine import Engine
from engine.clues import view_clue
from engine.instance_view import instance_detail

from ..factories import ClueDriver


def test_a_task_says_who_may_open_it(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign()  # Task_plan, the unit's
    for username, may in [("unit", True), ("office", True), ("supervisor", True), ("group", False)]:
        [task] = engine.run(view_clue, username, clue.clue_id)["tasks"]
        assert (task["name"], task["may_open"]) == ("Task_plan", may), username
    for username, may in [("supervisor", True), ("group", False)]:
        [task] = engine.run(instance_detail, username, clue.instance_id)["tasks"]
        assert task["may_open"] is may, username
