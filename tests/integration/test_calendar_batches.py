"""The campaign page shows a calendar change's rescheduling progress and polls it while it runs."""
from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from engine import Engine
from engine.campaigns import run_calendar_batches, update_calendar

from ..factories import ClueDriver
from .conftest import AuthActions


def test_progress_of_a_batched_change(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    for _ in range(3):
        clue = ClueDriver(web_engine)
        clue.to_review(key=True)
        clue.review(approved=True)  # waits for the spot-check phase
    web_engine.run(update_calendar, "office", {"spot_check_starts_on": date(2023, 12, 10)}, inline=1)
    auth.login("office")
    page = client.get("/campaign/?lang=en").get_data(as_text=True)
    assert 'data-testid="calendar-changes"' in page and 'hx-get="/campaign/changes"' in page
    assert 'data-done="1" data-total="3"' in page and 'data-status="running"' in page
    assert "Spot check starts: 2023-12-01 → 2023-12-10" in page
    assert run_calendar_batches(web_engine, batch=1) == 2
    fragment = client.get("/campaign/changes?lang=en").get_data(as_text=True)
    assert 'data-done="3" data-total="3"' in fragment and 'data-status="finished"' in fragment
    assert "hx-get" not in fragment  # finished: no more polling
    auth.logout()
    auth.login("unit")
    assert client.get("/campaign/changes").status_code == 403


def test_saving_a_large_change_says_the_rest_runs_in_the_background(client: FlaskClient, auth: AuthActions,
                                                                     web_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import campaigns
    for _ in range(2):
        clue = ClueDriver(web_engine)
        clue.to_review(key=True)
        clue.review(approved=True)
    monkeypatch.setattr(campaigns, "BATCH_SIZE", 1)
    auth.login("office")
    phases = web_engine.campaign()["phases"]
    response = client.post("/campaign/?lang=en", data={**phases, "spot_check_starts_on": "2023-12-10"})
    assert response.status_code == 302
    shown = client.get("/campaign/?lang=en").get_data(as_text=True)
    assert "1 waiting timer(s) rescheduled" in shown and "being rescheduled in the background" in shown
