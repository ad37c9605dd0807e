"""`chengxin` command line, run in-process: JSON on stdout and the documented exit codes
(0 ok, 1 other/not found, 2 invalid, 3 conflict, 4 forbidden)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from engine.cli import main
from engine.db.models import InstanceEvent


NOW = "2023-12-10T10:00:00"
NO_SUCH_TASK = "00000000-0000-0000-0000-000000000000"
INTAKE = {"source": "enterprise_platform", "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
          "summary": "道路工程款逾期未付", "amount_owed": 1280000, "uscc": "91421300MA4000001H"}


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
        self.capsys, self.database_url = capsys, database_url

    def __call__(self, *argv: str, now: str = NOW) -> tuple[int, Any]:
        self.capsys.readouterr()
        code = main(["--db", self.database_url, "--now", now, *argv])
        out = self.capsys.readouterr().out
        return code, json.loads(out)

    def ok(self, *argv: str) -> Any:
        code, out = self(*argv)
        assert code == 0, out
        return out

    def demo(self) -> dict[str, Any]:
        out = self.ok("demo", "--calendar", "2023")
        assert out["users"] == 32 and len(out["sample_clues"]) >= 10
        return out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], database_url: str) -> Cli:
    return Cli(capsys, database_url)


def test_init_deploys_the_bundled_processes_once(cli: Cli) -> None:
    out = cli.ok("init")
    assert sorted((d["process_id"], d["version"]) for d in out["deployed"]) == [("clue_handling", 1),
                                                                                ("unit_reporting", 1)]
    again = cli.ok("init")
    assert again["deployed"] == out["deployed"]
    listed = cli.ok("definitions")
    assert sorted((d["process_id"], d["version"]) for d in listed) == [("clue_handling", 1), ("unit_reporting", 1)]


def test_bad_now_is_invalid(cli: Cli) -> None:
    code, out = cli("users", now="next tuesday")
    assert code == 2 and out["error"] == "invalid"


def test_unknown_user_is_exit_1(cli: Cli) -> None:
    cli.ok("init")
    code, out = cli("tasks", "--as", "nobody")
    assert code == 1 and out["error"] == "not_found" and "nobody" in out["message"]


def test_data_that_is_not_json_is_exit_2(cli: Cli) -> None:
    cli.ok("init")
    code, out = cli("clue", "add", "--as", "office", "--data", "{not json")
    assert code == 2 and out["error"] == "invalid"


def clue_show(cli: Cli, clue_id: int) -> dict[str, Any]:
    return cli.ok("clue", "show", str(clue_id))


@pytest.mark.slow
def test_clue_and_task_commands(cli: Cli) -> None:
    cli.ok("init")
    cli.demo()

    users = cli.ok("users")
    names = {u["name"] for u in users}
    assert len(users) == 32
    assert {"office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin",
            "unit_zengdu", "group_policy", "spotcheck_service"} <= names

    inbox = cli.ok("tasks", "--as", "office")
    assert inbox["total"] == len(inbox["items"]) > 0
    assert all(t["lane"] == "office" or t["candidate_group"] == "office" for t in inbox["items"])

    # Intake: office only, valid data only, and a refusal creates nothing.
    created = cli.ok("clue", "add", "--as", "office", "--data", json.dumps(INTAKE, ensure_ascii=False))
    clue_id, instance_id = created["clue_id"], created["instance_id"]
    assert isinstance(instance_id, int)
    shown = clue_show(cli, clue_id)
    assert shown["stage"] == "triage" and shown["instance"]["id"] == instance_id
    assert [t["name"] for t in shown["tasks"]] == ["Task_triage"]
    triage_id = shown["tasks"][0]["id"]

    code, out = cli("clue", "add", "--as", "unit", "--data", json.dumps(INTAKE, ensure_ascii=False))
    assert code == 4 and out["error"] == "forbidden"
    code, out = cli("clue", "add", "--as", "office", "--data",
                    json.dumps({**INTAKE, "uscc": "91421300MA4000001X"}, ensure_ascii=False))
    assert code == 2 and out["error"] == "invalid" and "uscc" in out["fields"]
    code, out = cli("clue", "show", str(clue_id + 1))
    assert code == 1 and out["error"] == "not_found"

    # The task and its form.
    task = cli.ok("task", "show", triage_id, "--as", "office")
    assert task["name"] == "Task_triage" and task["may_complete"] is True
    assert "accepted" in task["form"]["schema"]["properties"]
    assert task["form"]["schema"]["required"] == ["accepted"]
    assert cli.ok("tasks", "--as", "office", "--clue", str(clue_id))["items"][0]["id"] == triage_id

    # Invalid data: exit 2 with the field, and nothing moves.
    events_before = cli.ok("history", str(clue_id))["events"]
    code, out = cli("complete", triage_id, "--as", "office", "--data", '{"accepted": "yes"}')
    assert code == 2 and out["error"] == "invalid" and "accepted" in out["fields"]
    code, out = cli("complete", triage_id, "--as", "office", "--data", '{"accepted": true}')
    assert code == 2 and {"category", "level"} <= set(out["fields"])
    shown = clue_show(cli, clue_id)
    assert shown["stage"] == "triage" and [t["id"] for t in shown["tasks"]] == [triage_id]
    assert shown["category"] is None
    assert cli.ok("history", str(clue_id))["events"] == events_before

    # Someone else's task, and a task that does not exist.
    unit_task = cli.ok("tasks", "--as", "unit")["items"][0]
    assert unit_task["candidate_unit"] == "zengdu"
    code, out = cli("complete", unit_task["id"], "--as", "unit_suixian", "--data", "{}")
    assert code == 4 and out["error"] == "forbidden"
    assert unit_task["id"] in [t["id"] for t in cli.ok("tasks", "--as", "unit")["items"]]
    code, out = cli("complete", NO_SUCH_TASK, "--as", "office", "--data", "{}")
    assert code == 1 and out["error"] == "not_found"

    # Complete, then complete again.
    data = json.dumps({"accepted": True, "category": "policy", "level": "city"})
    done = cli.ok("complete", triage_id, "--as", "office", "--data", data)
    assert done["task_id"] == triage_id and done["status"] == "running"
    assert [t["name"] for t in done["next_tasks"]] == ["Task_assign"]
    code, out = cli("complete", triage_id, "--as", "office", "--data", data)
    assert code == 3 and out["error"] == "conflict"
    shown = clue_show(cli, clue_id)
    assert shown["stage"] == "assigning" and shown["work_group"] == "policy"

    history = cli.ok("history", str(clue_id))
    assert history["clue_id"] == clue_id and history["instance_id"] == instance_id
    assert [e["seq"] for e in history["events"]] == list(range(1, len(history["events"]) + 1))
    kinds = [e["kind"] for e in history["events"]]
    assert kinds[:2] == ["instance_started", "task_completed"]
    assert {"decision_made", "script_run"} <= set(kinds)
    completed = [e for e in history["events"] if e["kind"] == "task_completed"]
    assert len(completed) == 1 and completed[0]["actor"] == "office" and completed[0]["data"]["category"] == "policy"

    ticked = cli.ok("tick")
    assert isinstance(ticked["advanced"], int)


@pytest.mark.slow
def test_verify_history_names_the_edited_event(cli: Cli) -> None:
    cli.ok("init")
    demo = cli.demo()
    verified = cli.ok("verify-history")
    assert verified["intact"] is True and verified["instances_checked"] >= len(demo["sample_clues"])

    histories = [cli.ok("history", str(c)) for c in demo["sample_clues"]]
    target = max(histories, key=lambda h: len(h["events"]))
    instance_id = target["instance_id"]
    assert len(target["events"]) >= 3
    sql = create_engine(cli.database_url)
    try:
        with sql.begin() as conn:
            event_id = conn.scalar(select(InstanceEvent.id).where(InstanceEvent.instance_id == instance_id,
                                                                  InstanceEvent.seq == 2))
            assert event_id is not None
            conn.execute(update(InstanceEvent).where(InstanceEvent.id == event_id).values(data={"x": 1}))
    finally:
        sql.dispose()

    code, out = cli("verify-history")
    assert code == 1 and out["intact"] is False
    assert out["first_break"]["instance_id"] == instance_id
    assert out["first_break"]["seq"] == 2 and out["first_break"]["event_id"] == event_id
    assert "edited" in out["first_break"]["reason"]


def test_token_create_gives_a_working_bearer_token(cli: Cli, database_url: str) -> None:
    from engine import Engine, EngineSettings, accounts
    cli.ok("init")
    engine = Engine(EngineSettings(database_url=database_url))
    try:
        engine.create_users([("office", "综合办公室", "office", None, None)])
        created = cli.ok("token", "create", "office", "--name", "integration")
        assert created["token"].startswith("cx_") and created["name"] == "integration"
        assert engine.run(accounts.user_for_token, created["token"]).username == "office"
        code, out = cli("token", "create", "nobody")
        assert code == 1 and out["error"] == "not_found"
    finally:
        engine.dispose()
