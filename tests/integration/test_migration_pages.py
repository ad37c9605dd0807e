"""The version-migration pages (webui/migration.py): picker, dry run, batch with progress, log, undo."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from ..unit.test_version_migration import stored, version_2
from .conftest import AuthActions


class InlineThread:
    """Runs the batch in the request instead of a thread, so that the test sees it finished."""

    def __init__(self, target: Any, args: tuple[Any, ...], **_: Any) -> None:
        self.target, self.args = target, args

    def start(self) -> None:
        self.target(*self.args)


@pytest.fixture
def inline(monkeypatch: pytest.MonkeyPatch) -> None:
    import webui.migration
    monkeypatch.setattr(webui.migration.threading, "Thread", InlineThread)


def test_only_designers_and_admins_migrate(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    assert client.get("/migrations/").status_code == 403
    assert client.get("/migrations/dry-run?process_id=clue_handling&from_version=1&to_version=1").status_code == 403
    assert client.post("/migrations/run", data={"process_id": "clue_handling", "from_version": "1",
                                                "to_version": "2", "instance_id": "1"}).status_code == 403
    assert client.post("/migrations/1/undo").status_code == 403
    auth.login("designer")
    page = client.get("/migrations/").get_data(as_text=True)
    assert "clue_handling" in page and "Version migration" in client.get("/migrations/?lang=en").get_data(as_text=True)


def test_dry_run_migrate_and_undo_through_the_pages(app: Flask, client: FlaskClient, auth: AuthActions,
                                                    web_engine: Engine, inline: None) -> None:
    movable = ClueDriver(web_engine)
    blocked = ClueDriver(web_engine)
    blocked.triage(), blocked.assign(), blocked.plan()
    version_2(web_engine)
    auth.login("designer")
    page = client.get("/migrations/dry-run?process_id=clue_handling&from_version=1&to_version=2&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = dict(re.findall(r'data-instance="(\d+)" data-can-move="(yes|no)"', html))
    assert rows == {str(movable.instance_id): "yes", str(blocked.instance_id): "no"}
    assert 'data-code="task_missing"' in html and "Task_report" in html
    assert "1 can move, 1 cannot" in html
    before = stored(web_engine, blocked.instance_id)
    done = client.post("/migrations/run", data={"process_id": "clue_handling", "from_version": "1", "to_version": "2",
                                                 "instance_id": [str(movable.instance_id), str(blocked.instance_id)]})
    assert done.status_code == 200
    result = done.get_data(as_text=True)
    assert 'data-state="done"' in result and 'data-moved="1"' in result
    token = re.search(r"/migrations/progress/([0-9a-f]{32})", result)
    assert token is None  # finished: htmx stops asking
    assert stored(web_engine, movable.instance_id)["version"] == 2
    assert stored(web_engine, blocked.instance_id) == before
    log = client.get("/migrations/").get_data(as_text=True)
    assert f'data-instance="{movable.instance_id}" data-undone="no"' in log
    migration_id = re.search(r"/migrations/(\d+)/undo", log)[1]  # type: ignore[index]
    assert client.post(f"/migrations/{migration_id}/undo").status_code == 302
    assert stored(web_engine, movable.instance_id)["version"] == 1
    assert f'data-instance="{movable.instance_id}" data-undone="yes"' in client.get("/migrations/").get_data(as_text=True)
    again = client.post(f"/migrations/{migration_id}/undo", follow_redirects=True)
    assert "already undone" in again.get_data(as_text=True)


def test_progress_is_followed_while_the_batch_runs(client: FlaskClient, auth: AuthActions, web_engine: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import webui.migration
    started: list[InlineThread] = []

    class Deferred(InlineThread):
        def start(self) -> None:
            started.append(self)

    monkeypatch.setattr(webui.migration.threading, "Thread", Deferred)
    clue = ClueDriver(web_engine)
    version_2(web_engine, rename_report=False)
    auth.login("admin")
    running = client.post("/migrations/run", data={"process_id": "clue_handling", "from_version": "1",
                                                   "to_version": "2", "instance_id": str(clue.instance_id)})
    token = re.search(r"/migrations/progress/([0-9a-f]{32})", running.get_data(as_text=True))[1]  # type: ignore[index]
    assert 'data-state="running"' in running.get_data(as_text=True)
    started[0].target(*started[0].args)
    partial = client.get(f"/migrations/progress/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-state="done"' in partial and "hx-get" not in partial
    auth.login("designer")
    assert client.get(f"/migrations/progress/{token}").status_code == 404  # another user's batch
    assert client.get("/migrations/progress/nothex").status_code == 404


def test_bad_choices_are_refused_on_the_page(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("designer")
    assert client.get("/migrations/dry-run").status_code == 200  # nothing chosen: the picker
    assert client.get("/migrations/dry-run?process_id=clue_handling&from_version=1&to_version=1").status_code == 422
    assert client.get("/migrations/dry-run?process_id=clue_handling&from_version=1&to_version=9").status_code == 404
    assert client.get("/migrations/dry-run?process_id=clue_handling&from_version=x&to_version=1").status_code == 422
    empty = client.post("/migrations/run", data={"process_id": "clue_handling", "from_version": "1", "to_version": "2"})
    assert empty.status_code == 302
