"""Wiring: one Engine per database and clock. Each public method is one engine operation in
one database transaction; the web UI and the CLI call only these."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from . import clues, history, org, reporting, tasks, timers
from .campaigns import create_campaign, current_campaign, campaign_summary
from .clock import Clock, SystemClock, clock_active, install_spiff_clock
from .context import Context, Runtime
from .db.models import Role
from .db.session import make_session_factory, make_sql_engine
from .definitions import SpecCache, deploy, list_definitions
from .forms import FormRegistry
from .scripts import make_script_engine
from .settings import EngineSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    def __init__(self, settings: EngineSettings | None = None, clock: Clock | None = None) -> None:
        install_spiff_clock()
        self.settings = settings or EngineSettings()
        self.clock = clock or SystemClock()
        self.sql_engine = make_sql_engine(self.settings.database_url, self.settings.database_echo)
        self.sessions = make_session_factory(self.sql_engine)
        self.runtime = Runtime(
            settings=self.settings, clock=self.clock, specs=SpecCache(),
            forms=FormRegistry(self.settings.forms_dir),
            script_engine=make_script_engine(self.clock, self.settings.script_time_limit),
            services={"create_clues": clues.create_clues_from_rows},
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Context]:
        """One unit of work: commits if the block succeeds, rolls everything back if not."""
        with clock_active(self.clock), self.sessions() as session, session.begin():
            yield Context(session=session, runtime=self.runtime, now=self.clock.now())

    def run(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one engine function `operation(ctx, *args, **kwargs)` as one transaction."""
        with self.transaction() as ctx:
            return operation(ctx, *args, **kwargs)

    def dispose(self) -> None:
        self.sql_engine.dispose()

    # --- set-up ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        from .migrate import upgrade
        upgrade(self.sql_engine)

    def deploy(self, files: list[tuple[str, str | bytes]], actor: str = "system") -> list[dict[str, Any]]:
        with self.transaction() as ctx:
            deployed = deploy(ctx.session, files, actor, ctx.now, self.runtime.compile_script,
                              self.runtime.forms.keys(), self.settings.history_hash)
            return [{"process_id": d.process_id, "version": d.version, "id": d.id} for d in deployed]

    def deploy_directory(self, directory: Path | None = None, actor: str = "system") -> list[dict[str, Any]]:
        """Deploy the bundled processes/ (every BPMN with every DMN)."""
        directory = directory or self.settings.processes_dir
        files = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(directory.iterdir())
                 if p.suffix in (".bpmn", ".dmn")]
        return self.deploy(files, actor)

    def definitions(self) -> list[dict[str, Any]]:
        with self.transaction() as ctx:
            return [{"process_id": d.process_id, "version": d.version, "name": d.name, "deployed_by": d.deployed_by,
                     "deployed_at": d.deployed_at.isoformat(), "hash": d.content_hash}
                    for d in list_definitions(ctx.session)]

    def open_campaign(self, calendar: dict[str, Any], **options: Any) -> dict[str, Any]:
        with self.transaction() as ctx:
            return campaign_summary(create_campaign(ctx, calendar, **options))

    def campaign(self) -> dict[str, Any]:
        with self.transaction() as ctx:
            return campaign_summary(current_campaign(ctx.session))

    def start_unit_reporting(self, actor: str = "system") -> list[int]:
        with self.transaction() as ctx:
            return reporting.start_unit_reporting(ctx, actor)

    def users(self) -> list[dict[str, Any]]:
        with self.transaction() as ctx:
            return org.list_users(ctx)

    def create_users(self, users: list[tuple[str, str, str, str | None, str | None]], password: str | None = None) -> None:
        """Seed accounts (username, display name, role, unit, group) sharing one password."""
        password_hash = org.hash_for_seeding(password) if password else None
        with self.transaction() as ctx:
            for username, display_name, role, unit_code, group_code in users:
                org.create_user(ctx, username, display_name, Role(role), None, unit_code, group_code, password_hash)

    # --- clues and tasks -------------------------------------------------------------------
    def add_clue(self, username: str, data: Any, confirm_warnings: bool = False) -> dict[str, Any]:
        with self.transaction() as ctx:
            return clues.add_clue(ctx, username, data, confirm_warnings=confirm_warnings)

    def show_clue(self, clue_id: int) -> dict[str, Any]:
        with self.transaction() as ctx:
            return clues.show_clue(ctx, clue_id)

    def clue_history(self, clue_id: int) -> dict[str, Any]:
        with self.transaction() as ctx:
            return clues.clue_history(ctx, clue_id)

    def tasks(self, username: str, clue_id: int | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        with self.transaction() as ctx:
            return tasks.list_tasks(ctx, username, clue_id, page, per_page)

    def show_task(self, task_id: str, username: str) -> dict[str, Any]:
        with self.transaction() as ctx:
            return tasks.show_task(ctx, task_id, username)

    def claim_task(self, task_id: str, username: str) -> dict[str, Any]:
        with self.transaction() as ctx:
            return tasks.claim_task(ctx, task_id, username)

    def release_task(self, task_id: str, username: str) -> dict[str, Any]:
        with self.transaction() as ctx:
            return tasks.release_task(ctx, task_id, username)

    def complete_task(self, task_id: str, username: str, data: Any,
                      confirm_warnings: bool = False) -> dict[str, Any]:
        with self.transaction() as ctx:
            return tasks.complete_task(ctx, task_id, username, data, confirm_warnings)

    # --- timers ----------------------------------------------------------------------------
    def fire_due_timers(self, limit: int | None = None, stop: timers.StopFlag | None = None,
                        skip: set[int] | None = None) -> int:
        """Advance every instance with a due timer, a group of them per transaction (timers.py)."""
        return timers.fire_due(self.transaction, limit, stop, skip)

    def seconds_to_next_timer(self) -> float | None:
        """How long, by this engine's clock, until the next timer falls due (None: no timer waits)."""
        with self.transaction() as ctx:
            due = timers.next_due(ctx, ctx.now)
            return (due - ctx.now).total_seconds() if due is not None else None

    # --- history ---------------------------------------------------------------------------
    def verify_history(self) -> dict[str, Any]:
        with self.transaction() as ctx:
            checked = 0
            for instance_id, broken in history.verify_all(ctx.session):
                checked += 1
                if broken is not None:
                    return {"intact": False, "instances_checked": checked, "first_break": broken.to_dict()}
            return {"intact": True, "instances_checked": checked}
