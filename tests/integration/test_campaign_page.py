"""The office's campaign calendar page (/campaign/): shows the phases, moves them, refuses others."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions

PHASES = {"starts_on": "2023-10-17", "investigation_ends_on": "2023-10-20", "rectification_ends_on": "2023-11-30",
          "spot_check_starts_on": "2023-12-01", "spot_check_ends_on": "2023-12-31", "ends_on": "2023-12-31"}


@pytest.fixture(autouse=True)
def campaign_pages(app: Flask) -> Iterator[None]:
    # Registered here until webui/__init__.py lists "campaigns" among its blueprints.
    if "campaigns" not in app.blueprints:
        from webui import campaigns
        app.register_blueprint(campaigns.bp)
    yield


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error="(\w+)">([^<]*)', html))


def waiting_clue(engine: Engine) -> ClueDriver:
    clue = ClueDriver(engine)
    clue.to_review(key=True)
    clue.review(approved=True)
    return clue


def test_office_sees_and_moves_the_calendar(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = waiting_clue(web_engine)
    auth.login("office")
    page = client.get("/campaign/?lang=en").get_data(as_text=True)
    assert 'href="/campaign/"' in page  # the office's nav link
    assert 'value="2023-12-01"' in page and "Spot check starts" in page
    response = client.post("/campaign/", data={**PHASES, "spot_check_starts_on": "2023-12-10"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/campaign/")
    shown = client.get("/campaign/").get_data(as_text=True)
    assert 'value="2023-12-10"' in shown and "1 waiting timer(s) rescheduled" in shown
    assert web_engine.campaign()["phases"]["spot_check_starts_on"] == "2023-12-10"
    assert clue.show()["instance"]["next_timer_at"] == "2023-12-09T16:00:00+00:00"
    assert client.post("/campaign/", data={**PHASES, "spot_check_starts_on": "2023-12-10"}).status_code == 302
    assert "Nothing changed." in client.get("/campaign/").get_data(as_text=True)


def test_a_carry_over_shows_among_the_changes_with_its_progress(client: FlaskClient, auth: AuthActions,
                                                               web_engine: Engine) -> None:
    from engine.campaigns import open_next_campaign, template_for
    waiting_clue(web_engine)
    web_engine.run(open_next_campaign, "office", template_for(2024))
    auth.login("office")
    page = client.get("/campaign/").get_data(as_text=True)
    row = re.search(r'<tr data-change="\d+" data-done="(\d+)" data-total="(\d+)">(.*?)</tr>', page, re.S)
    assert row is not None and row.group(1) == row.group(2) == "1"
    assert "上一年度未办结线索结转至本年度" in row.group(3) and 'data-status="finished"' in row.group(3)


@pytest.mark.parametrize("changes, field", [
    ({"spot_check_starts_on": "2023-11-20"}, "spot_check_starts_on"),
    ({"ends_on": "not a date"}, "ends_on"),
    ({"investigation_ends_on": ""}, "investigation_ends_on"),
])
def test_bad_dates_are_shown_beside_their_field(client: FlaskClient, auth: AuthActions, web_engine: Engine,
                                                changes: dict[str, str], field: str) -> None:
    auth.login("office")
    response = client.post("/campaign/?lang=en", data={**PHASES, **changes})
    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert list(errors) == [field] and errors[field]
    assert web_engine.campaign()["phases"] == PHASES


@pytest.mark.parametrize("role", ["unit", "group", "spotcheck", "supervisor", "admin"])
def test_only_the_office_may_use_it(client: FlaskClient, auth: AuthActions, web_engine: Engine, role: str) -> None:
    auth.login(role)
    assert client.get("/campaign/").status_code == 403
    assert client.post("/campaign/", data={**PHASES, "spot_check_starts_on": "2023-12-10"}).status_code == 403
    assert web_engine.campaign()["phases"] == PHASES
    assert 'href="/campaign/"' not in client.get("/inbox/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/campaign/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
