"""Operations endpoints, open without signing in: `GET /healthz` and `GET /metrics`.

- `/healthz`: JSON — database reachable, schema at the newest migration, the in-process
  scheduler (when `chengxin serve` runs one) and the due/overdue timer counts. 200 when the
  database answers and the schema is at head (`status` ok, or degraded when timers are
  overdue or the in-process scheduler stopped), 503 otherwise.
- `/metrics`: Prometheus text format — the database gauges (instances by status, waiting, due
  and overdue timers; `engine.metrics.EngineCollector`), this process's timer firing lag and
  sweep figures, process metrics, and HTTP request latency by endpoint.

Neither shows anything about clues or people. Put them behind the reverse proxy's own rules
if the figures themselves should not be public (docs: README "Operations").
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import Collector

from engine import metrics
from engine.scheduler import sweep_of

from .db import engine

bp = Blueprint("ops", __name__)
log = logging.getLogger("chengxin.http")
QUIET = {"ops.healthz", "ops.metrics_page", "static"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Forward(Collector):
    """This process's default-registry metrics (process, timer lag and sweeps) in the app's registry."""

    def collect(self) -> Any:
        yield from REGISTRY.collect()


def _state(app: Flask) -> dict[str, Any]:
    state = app.extensions.get("chengxin_ops")
    if state is None:
        registry = CollectorRegistry()
        registry.register(_Forward())
        registry.register(metrics.EngineCollector(app.extensions["chengxin_engine"]))
        latency = Histogram("chengxin_http_request_duration_seconds", "Time to answer an HTTP request.",
                            ["endpoint", "method", "status"], registry=registry, buckets=LATENCY_BUCKETS)
        state = app.extensions["chengxin_ops"] = {"registry": registry, "latency": latency}
    return state


def init_app(app: Flask) -> None:
    """Time every request (by endpoint, method and status) and log it as one JSON line."""
    state = _state(app)

    def _start_timer() -> None:
        g.chengxin_started = time.perf_counter()

    # First of all before-request hooks, so the sign-in and idle checks are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("chengxin_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        state["latency"].labels(endpoint, request.method, str(response.status_code)).observe(elapsed)
        log.log(logging.DEBUG if endpoint in QUIET else logging.INFO, "%s %s %s", request.method, request.path,
                response.status_code, extra={"event": "http_request", "endpoint": endpoint, "method": request.method,
                                             "path": request.path, "status": response.status_code,
                                             "ms": round(elapsed * 1000, 1)})
        return response


def scheduler_state() -> dict[str, Any]:
    scheduler = current_app.extensions.get("chengxin_scheduler")
    if scheduler is None:
        return {"in_process": False, "note": "timers are fired by `chengxin worker` processes (if any)"}
    sweep = sweep_of(scheduler)
    if sweep is None:
        return {"in_process": True, "running": bool(scheduler.running), "note": "no timer sweep job"}
    return sweep.state(scheduler)


@bp.get("/healthz")
def healthz() -> Any:
    report, healthy = metrics.health(engine(), scheduler_state())
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics_page() -> Any:
    registry = _state(current_app)["registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
