"""`chengxin backup` and `chengxin restore`: a campaign half-way through, restored into a fresh
database (a new SQLite file; a fresh PostgreSQL schema, and a fresh PostgreSQL database), is the
same system — history intact, the same READY tasks and waiting timers — and carries on."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Engine, EngineSettings, FixedClock
from engine import backup as backup_module
from engine.cli import main

from ..conftest import ON_POSTGRESQL, TARGET
from ..factories import ClueDriver, postgresql_schema


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, url: str, *argv: str) -> tuple[int, Any]:
        self.capsys.readouterr()
        code = main(["--db", url, *argv])
        return code, json.loads(self.capsys.readouterr().out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def midway(engine: Engine) -> dict[str, ClueDriver]:
    """Clues in several stages; two of them waiting for timers (a deadline, the spot-check phase)."""
    clues = {"triage": ClueDriver(engine, enterprise_name="待分办企业")}
    clues["assigning"] = ClueDriver(engine, enterprise_name="待交办企业")
    clues["assigning"].triage()
    clues["planning"] = ClueDriver(engine, enterprise_name="待计划企业")
    clues["planning"].triage()
    clues["planning"].assign(deadline="2023-11-20")
    clues["rectifying"] = ClueDriver(engine, enterprise_name="整改中企业")
    clues["rectifying"].triage()
    clues["rectifying"].assign(deadline="2023-11-20")
    clues["rectifying"].plan()  # the deadline's boundary timer waits
    clues["awaiting_spot_check"] = ClueDriver(engine, enterprise_name="待抽查企业")
    clues["awaiting_spot_check"].to_review(key=True)
    clues["awaiting_spot_check"].review(approved=True)  # waits for the spot-check phase
    clues["closed"] = ClueDriver(engine, enterprise_name="已销号企业")
    clues["closed"].to_review()
    clues["closed"].review(approved=True)
    return clues


def state_of(url: str) -> dict[str, Any]:
    """What must survive: READY tasks, waiting timers, instance heads, clue stages, row counts."""
    sql = create_engine(url)
    try:
        with sql.connect() as conn:
            def rows(query: str) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in conn.execute(text(query))]
            return {
                "tasks": rows("SELECT id, instance_id, clue_id, spec_name, audience, due_at, stage, claimed_by "
                              "FROM human_task ORDER BY id"),
                "timers": rows("SELECT id, status, next_timer_at, version, history_count, history_head "
                               "FROM process_instance ORDER BY id"),
                "clues": rows("SELECT id, stage, responsible_unit, deadline FROM clue ORDER BY id"),
                "counts": {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                           for t in ("instance_event", "app_user", "org_unit", "campaign", "process_definition",
                                     "definition_file", "security_event")},
            }
    finally:
        sql.dispose()


def check_restored(engine: Engine, source_url: str, target_url: str, clues: dict[str, ClueDriver]) -> None:
    before = state_of(source_url)
    assert state_of(target_url) == before
    assert any(t[2] is not None for t in before["timers"])  # timers were waiting
    restored = Engine(EngineSettings(database_url=target_url), FixedClock(engine.clock.now()))
    try:
        assert restored.verify_history() == {"intact": True, "instances_checked": len(before["timers"])}
        # The restored system carries on: a task completes, a waiting timer fires.
        planning = ClueDriver.__new__(ClueDriver)
        planning.engine, planning.clue_id = restored, clues["planning"].clue_id
        planning.plan()
        assert planning.stage == "rectifying"
        waiting = ClueDriver.__new__(ClueDriver)
        waiting.engine, waiting.clue_id = restored, clues["awaiting_spot_check"].clue_id
        waiting.at("2023-12-02T09:00:00")
        assert waiting.ready() == ["Task_spot_check"]
        new = ClueDriver(restored, enterprise_name="恢复后新登记企业")  # ids continue past the restored ones
        assert new.clue_id > max(c[0] for c in before["clues"])
        assert restored.verify_history()["intact"] is True
    finally:
        restored.dispose()
    assert state_of(source_url) == before  # the original is untouched


@pytest.fixture
def fresh_target(tmp_path: Path) -> Iterator[str]:
    if not ON_POSTGRESQL:
        yield f"sqlite:///{tmp_path / 'restored' / 'chengxin.sqlite3'}"
        return
    with postgresql_schema(TARGET, "restore") as url:
        yield url


def test_backup_midway_restored_into_a_fresh_database(engine: Engine, database_url: str, fresh_target: str,
                                                      tmp_path: Path, cli: Cli) -> None:
    clues = midway(engine)
    archive = tmp_path / "backups" / "chengxin.backup"
    code, out = cli(database_url, "backup", str(archive))
    assert code == 0, out
    assert out["backup"] == str(archive) and out["bytes"] == archive.stat().st_size > 0 and len(out["sha256"]) == 64
    code, again = cli(database_url, "backup", str(archive))
    assert code == 1 and again["error"] == "backup_failed" and "exists" in again["message"]

    code, out = cli(fresh_target, "restore", str(archive))
    assert code == 0, out
    assert out["at_head"] is True and out["counts"]["clue"] == len(clues)
    if ON_POSTGRESQL:  # a schema of another name: the archive's statements are renamed on the way in
        assert out["dumped_schema"] != out["schema"]
    check_restored(engine, database_url, fresh_target, clues)

    code, refused = cli(fresh_target, "restore", str(archive))  # never over a database in use
    assert code == 1 and refused["error"] == "backup_failed"


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path, cli: Cli) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    code, out = cli(target, "restore", str(bogus))
    assert code == 1 and out["error"] == "backup_failed"
    code, out = cli(target, "restore", str(tmp_path / "missing.backup"))
    assert code == 1 and out["error"] == "not_found"


def test_missing_postgresql_tools_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: Cli) -> None:
    monkeypatch.setattr(backup_module.shutil, "which", lambda name: None)
    code, out = cli("postgresql+psycopg://chengxin@db.invalid/chengxin", "backup", str(tmp_path / "x.dump"))
    assert code == 1 and out["error"] == "backup_failed"
    assert "pg_dump is not installed" in out["message"] and "postgresql-client" in out["message"]


def test_schema_rename_leaves_table_data_alone() -> None:
    script = ("CREATE TABLE old_s.clue (id integer);\n"
              "COPY old_s.clue (id, summary) FROM stdin;\n"
              "1\tcopied from old_s.clue verbatim\n"
              "\\.\n"
              "SELECT pg_catalog.setval('old_s.clue_id_seq', 5, true);\n")
    renamed = backup_module._rename_schema(script, "old_s", "new_s")  # noqa: SLF001
    assert renamed.splitlines() == ['CREATE TABLE "new_s".clue (id integer);',
                                    'COPY "new_s".clue (id, summary) FROM stdin;',
                                    "1\tcopied from old_s.clue verbatim",
                                    "\\.",
                                    "SELECT pg_catalog.setval('\"new_s\".clue_id_seq', 5, true);"]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="a fresh PostgreSQL database (pg_restore straight in)")
def test_postgresql_backup_restored_into_a_new_database(engine: Engine, database_url: str, tmp_path: Path,
                                                        cli: Cli) -> None:
    clues = midway(engine)
    archive = tmp_path / "chengxin.dump"
    assert cli(database_url, "backup", str(archive))[0] == 0
    name = f"chengxin_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TARGET, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        # Same schema name as the dump's, in a database where it does not exist yet.
        target = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        code, out = cli(target, "restore", str(archive))
        assert code == 0, out
        assert out["dumped_schema"] == out["schema"]
        check_restored(engine, database_url, target, clues)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
