"""The timer sweep advances due instances a group per transaction; each instance's advance is
still all-or-nothing, and one bad instance in a group costs the others nothing."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine import Engine
from engine import timers
from engine.db import bulk
from engine.db.models import InstanceStatus, Notification, ProcessInstance

from ..timer_wave import deploy_wave, half_written, instance_states, reader, start_wave

DUE = "2023-12-01T00:00:00+08:00"


@pytest.fixture
def wave(bare_engine: Engine) -> Engine:
    deploy_wave(bare_engine)
    return bare_engine


def commits_during(engine: Engine, call: object) -> tuple[object, int]:
    count = 0

    def on_commit(_conn: object) -> None:
        nonlocal count
        count += 1
    event.listen(engine.sql_engine, "commit", on_commit)
    try:
        result = call()  # type: ignore[operator]
    finally:
        event.remove(engine.sql_engine, "commit", on_commit)
    return result, count


def assert_each_fired_once(url: str, count: int) -> None:
    sql = reader(url)
    try:
        states = instance_states(sql)
    finally:
        sql.dispose()
    assert len(states) == count and half_written(states) == []
    assert {s["fired"] for s in states.values()} == {1}


def test_a_wave_is_advanced_a_group_per_transaction(wave: Engine, database_url: str) -> None:
    count = 2 * timers.GROUP_SIZE + 50
    start_wave(wave, count, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    fired, commits = commits_during(wave, wave.fire_due_timers)
    assert fired == count
    assert commits == 3  # two full groups and the rest, not one commit per instance
    assert_each_fired_once(database_url, count)
    assert wave.verify_history()["intact"] is True


def test_a_group_that_fails_to_write_is_redone_one_instance_per_transaction(
        wave: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    start_wave(wave, 30, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    real = timers.flush_in_bulk
    calls = 0

    def fails_once(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StaleDataError("process_instance: 1 of 30 rows were changed by someone else")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(timers, "flush_in_bulk", fails_once)
    with caplog.at_level(logging.WARNING, logger="engine.timers"):
        fired, commits = commits_during(wave, wave.fire_due_timers)
    assert fired == 30 and commits == 30  # nothing of the failed group was kept; each redone alone
    assert [r.instances for r in caplog.records if getattr(r, "event", None) == "timer_group_failed"] == [30]
    assert_each_fired_once(database_url, 30)
    assert wave.verify_history()["intact"] is True


def test_a_lost_database_ends_the_sweep_and_leaves_every_instance_due(
        wave: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    start_wave(wave, 10, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    real = timers.fire_timers_of
    calls = 0

    def connection_lost(*args: object, **kwargs: object) -> timers.Fired:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(timers, "fire_timers_of", connection_lost)
    with pytest.raises(OperationalError):
        wave.fire_due_timers()
    assert calls == 3  # not retried instance by instance against a database that is gone
    with wave.transaction() as ctx:
        statuses = set(ctx.session.scalars(select(ProcessInstance.status)))
    assert statuses == {InstanceStatus.waiting}  # none parked as broken, none half-advanced
    monkeypatch.setattr(timers, "fire_timers_of", real)
    assert wave.fire_due_timers() == 10
    assert_each_fired_once(database_url, 10)


def test_a_stop_ends_the_group_after_the_instance_in_hand_and_keeps_what_is_done(
        wave: Engine, database_url: str) -> None:
    start_wave(wave, 20, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]

    class StopAfterFive:
        calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 5  # one look before the claim, then one before each later instance

    assert wave.fire_due_timers(stop=StopAfterFive()) == 5
    sql = reader(database_url)
    try:
        states = instance_states(sql)
    finally:
        sql.dispose()
    assert sum(s["fired"] for s in states.values()) == 5 and half_written(states) == []
    assert wave.fire_due_timers() == 15


def test_bulk_writes_check_the_version_each_row_was_read_with(wave: Engine) -> None:
    (first, second) = start_wave(wave, 2, DUE)
    with pytest.raises(StaleDataError, match="1 of 2 rows"):
        with wave.transaction() as ctx:
            rows = list(ctx.session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)))
            # someone else's write to one of them after it was read
            ctx.session.execute(update(ProcessInstance).where(ProcessInstance.id == second)
                                .values(version=ProcessInstance.version + 1)
                                .execution_options(synchronize_session=False))
            for row in rows:
                row.error_message = "changed"
            bulk.flush_in_bulk(ctx.session, insert=(), update_versioned=(ProcessInstance,))
    with wave.transaction() as ctx:  # and the failed write left nothing behind
        assert ctx.session.scalars(select(ProcessInstance.error_message)).all() == [None, None]


def test_bulk_writes_raise_the_version_and_leave_unset_columns_to_their_defaults(wave: Engine) -> None:
    (instance_id,) = start_wave(wave, 1, DUE)
    with wave.transaction() as ctx:
        row = ctx.session.get(ProcessInstance, instance_id)
        assert row is not None
        version = row.version
        row.error_message = "noted"
        ctx.session.add_all([
            Notification(username="u1", kind="k", title="body never set", created_at=ctx.now),
            Notification(username="u2", kind="k", title="body set to None", body=None, created_at=ctx.now),
            Notification(username="u3", kind="k", title="body given", body="text", created_at=ctx.now)])
        bulk.flush_in_bulk(ctx.session, insert=(Notification,), update_versioned=(ProcessInstance,))
        assert not ctx.session.new and not ctx.session.dirty
    with wave.transaction() as ctx:
        again = ctx.session.get(ProcessInstance, instance_id)
        assert again is not None
        assert (again.version, again.error_message) == (version + 1, "noted")
        bodies = dict(ctx.session.execute(select(Notification.username, Notification.body)).tuples().all())
        assert bodies == {"u1": "", "u2": "", "u3": "text"}  # the column default "", as the ORM would write
