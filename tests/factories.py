"""Plain helpers that put the engine into known states for tests and benchmarks."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from engine import Engine
from engine.campaigns import plan_2023
from engine.clock import local_today, parse_moment
from engine.demo import demo_users
from engine.org import ensure_units_and_groups

# Other modelling tools' real diagrams (the BPMN MIWG reference models, CC BY 3.0), kept in the
# repository so that a clean clone tests against them.
CORPUS = Path(__file__).parent / "data" / "bpmn-miwg-reference"


def prepare_engine(engine: Engine, spot_check_rate: float = 0.0, max_sendbacks: int = 5,
                   password: str | None = None) -> None:
    """Processes, Suizhou's units, the demo accounts (password only if given) and the 2023 campaign."""
    engine.deploy_directory()
    with engine.transaction() as ctx:
        ensure_units_and_groups(ctx)
    engine.create_users([(u, d, r.value, unit, g) for u, d, r, unit, g in demo_users()], password)
    engine.open_campaign(plan_2023(), spot_check_rate=spot_check_rate, max_sendbacks=max_sendbacks)


INTAKE = {"source": "enterprise_platform", "enterprise_name": "随州市恒达建材有限公司",
          "debtor": "曾都区某街道办事处", "summary": "道路工程款逾期未付", "amount_owed": 1280000}


class ClueDriver:
    """Walks one clue through its tasks as the right people would."""

    def __init__(self, engine: Engine, **intake: Any) -> None:
        self.engine = engine
        created = engine.add_clue("office", {**INTAKE, **intake})
        self.clue_id: int = created["clue_id"]
        self.instance_id: int = created["instance_id"]

    def at(self, moment: str) -> None:
        self.engine.clock.set(parse_moment(moment))  # type: ignore[attr-defined]
        self.engine.fire_due_timers()

    def show(self) -> dict[str, Any]:
        return self.engine.show_clue(self.clue_id)

    @property
    def stage(self) -> str:
        return self.show()["stage"]

    def ready(self) -> list[str]:
        return sorted(t["name"] for t in self.show()["tasks"])

    def task_id(self, name: str) -> str:
        matches = [t["id"] for t in self.show()["tasks"] if t["name"] == name]
        assert len(matches) == 1, f"{name} not ready exactly once: {self.ready()}"
        return matches[0]

    def do(self, name: str, user: str, data: dict[str, Any] | None = None, confirm: bool = True) -> dict[str, Any]:
        # Scenarios move the clock past their fixed deadlines on purpose; they confirm what
        # engine.plausibility would ask about, as a user would. tests/unit/test_plausibility.py
        # submits without confirming.
        return self.engine.complete_task(self.task_id(name), user, data or {}, confirm_warnings=confirm)

    def triage(self, key: bool = False, category: str = "arrears_public") -> None:
        self.do("Task_triage", "office", {"accepted": True, "category": category, "level": "city", "key_problem": key})

    def assign(self, deadline: str = "2023-11-20", unit: str = "zengdu") -> None:
        group = {"arrears_public": "group", "arrears_soe": "group_arrears_soe", "policy": "group_policy",
                 "investment": "group_investment", "promise": "office"}[self.show()["category"]]
        self.do("Task_assign", group, {"responsible_unit": unit, "deadline": deadline})

    def plan(self, user: str = "unit") -> None:
        self.do("Task_plan", user, {"measures": "分期支付", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
                                    "responsible_person": "张伟", "contact_phone": "13800000001"})

    def today(self) -> str:
        """The engine clock's day in Beijing: a completion or spot-check date may not be later."""
        return local_today(self.engine.clock).isoformat()

    def report(self, user: str = "unit", paid: float | str = 1280000) -> None:
        self.do("Task_report", user, {"amount_paid": paid, "feedback": "已全部支付", "completed_on": self.today()})

    def review(self, approved: bool, new_deadline: str | None = None) -> None:
        data: dict[str, Any] = {"approved": approved, "opinion": "同意销号" if approved else "证据不足，退回"}
        if new_deadline:
            data["new_deadline"] = new_deadline
        self.do("Task_review", "office", data)

    def spot_check(self, result: str, misconduct: bool = False, new_deadline: str = "2023-12-20",
                   user: str = "spotcheck") -> None:
        data = {"result": result, "misconduct": misconduct, "findings": "现场核查", "checked_on": self.today()}
        if result != "genuine":
            data["new_deadline"] = new_deadline
        self.do("Task_spot_check", user, data)

    def to_spot_check(self, on: str = "2023-12-02T09:00:00") -> None:
        """A key problem, approved, with the spot-check phase begun."""
        self.to_review(key=True)
        self.review(approved=True)
        self.at(on)

    def to_review(self, key: bool = False) -> None:
        self.triage(key=key)
        self.assign()
        self.plan()
        self.report()


@contextlib.contextmanager
def postgresql_schema(url: str, prefix: str = "test") -> Iterator[str]:
    """A fresh schema for one run; yields the URL whose connections use it, drops it after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
