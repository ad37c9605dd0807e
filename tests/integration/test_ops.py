"""GET /healthz and GET /metrics (webui/ops.py): open without signing in, figures from the database."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from engine import Engine
from engine.scheduler import start_in_background

from ..timer_wave import deploy_wave, start_wave
from .conftest import AuthActions


@pytest.fixture
def ops_app(app: Flask) -> Flask:
    """The app with the ops blueprint, whether or not create_app registers it yet."""
    if "ops" not in app.blueprints:
        from webui import ops
        app.register_blueprint(ops.bp)
        ops.init_app(app)
    return app


@pytest.fixture
def ops_client(ops_app: Flask) -> FlaskClient:
    return ops_app.test_client()


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz_answers_without_signing_in(ops_client: FlaskClient, web_engine: Engine) -> None:
    deploy_wave(web_engine)
    start_wave(web_engine, 3, "2023-10-18T08:00:00+08:00")
    web_engine.clock.set("2023-10-18T09:00:00")  # type: ignore[attr-defined]
    response = ops_client.get("/healthz")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["database"]["reachable"] is True
    assert body["migrations"]["at_head"] is True and body["migrations"]["current"] == body["migrations"]["head"]
    assert body["scheduler"]["in_process"] is False
    assert (body["timers"]["due"], body["timers"]["overdue"]) == (3, 3)
    assert body["status"] == "degraded"  # overdue timers and nobody firing them


def test_healthz_fails_when_the_schema_is_behind(ops_client: FlaskClient, web_engine: Engine) -> None:
    with web_engine.sql_engine.begin() as conn:
        real = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = ops_client.get("/healthz")
    finally:
        with web_engine.sql_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": real})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail" and body["migrations"]["at_head"] is False


def test_healthz_reports_the_in_process_scheduler(ops_app: Flask, ops_client: FlaskClient, web_engine: Engine) -> None:
    stop = threading.Event()
    scheduler = start_in_background(web_engine, interval_seconds=60, stop=stop)
    ops_app.extensions["chengxin_scheduler"] = scheduler
    try:
        body = ops_client.get("/healthz").get_json()
    finally:
        stop.set()
        scheduler.shutdown(wait=True)
        del ops_app.extensions["chengxin_scheduler"]
    assert body["status"] == "ok"
    assert body["scheduler"]["in_process"] is True and body["scheduler"]["running"] is True
    assert body["scheduler"]["interval_seconds"] == 60


@pytest.fixture
def fired_wave(web_engine: Engine) -> Iterator[Engine]:
    deploy_wave(web_engine)
    start_wave(web_engine, 4, "2023-10-18T08:59:00+08:00")
    start_wave(web_engine, 1, "2023-10-18T09:00:00+08:00")
    start_wave(web_engine, 2, "2023-12-01T00:00:00+08:00")
    web_engine.clock.set("2023-10-18T09:00:00")  # type: ignore[attr-defined]
    assert web_engine.fire_due_timers() == 4  # each fired 60 s late
    web_engine.clock.set("2023-10-18T10:00:00")  # type: ignore[attr-defined]
    yield web_engine


def test_metrics_without_signing_in(ops_client: FlaskClient, fired_wave: Engine, auth: AuthActions) -> None:
    ops_client.get("/auth/login")
    response = ops_client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    found = samples(response.get_data(as_text=True))
    assert found[("chengxin_database_up", ())] == 1
    assert found[("chengxin_instances", (("status", "running"),))] == 4
    assert found[("chengxin_instances", (("status", "waiting"),))] == 3
    assert found[("chengxin_instances", (("status", "error"),))] == 0
    assert found[("chengxin_timers_waiting", ())] == 3
    assert (found[("chengxin_timers_due", ())], found[("chengxin_timers_overdue", ())]) == (1, 1)
    assert found[("chengxin_timers_oldest_due_age_seconds", ())] == 3600
    assert found[("chengxin_timer_firing_lag_seconds_count", ())] >= 4  # this process's histogram
    assert found[("chengxin_timer_instances_advanced_total", (("status", "running"),))] >= 4
    login = (("endpoint", "auth.login"), ("method", "GET"), ("status", "200"))
    assert found[("chengxin_http_request_duration_seconds_count", login)] == 1
    assert any(name == "python_info" for name, _ in found)  # the client library's default collectors


def test_request_latency_is_by_endpoint_not_by_path(ops_client: FlaskClient, auth: AuthActions,
                                                    client: FlaskClient) -> None:
    auth.login("office")
    for clue_id in (1, 2, 3):
        client.get(f"/clues/{clue_id}")
    found = samples(ops_client.get("/metrics").get_data(as_text=True))
    counts = {dict(labels)["status"]: value for (name, labels), value in found.items()
              if name == "chengxin_http_request_duration_seconds_count" and dict(labels)["endpoint"] == "clues.show"}
    assert sum(counts.values()) == 3
