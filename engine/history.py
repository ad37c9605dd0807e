"""Append-only, hash-chained instance history.

Each event's hash covers its content and the previous event's hash in the same instance;
the instance row keeps the head hash and count, so deleting the newest events or a whole
tail is detected as well as an edited row. The algorithm is stored with every event so a
later change of algorithm does not break verification of older records.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import InstanceEvent, ProcessInstance


_FIELDS = ("instance_id", "seq", "at", "actor", "actor_role", "kind", "task_id", "element_id", "element_name",
           "data", "prev_hash")
_BUFFER = "chengxin.buffered_event_rows"


def _canonical(fields: dict[str, Any]) -> bytes:
    body = {name: fields[name] for name in _FIELDS}
    body["at"] = body["at"].isoformat()
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def row_hash(row: dict[str, Any]) -> str:
    """The hash of an event given as a row (its fields, `hash_alg` and `prev_hash` included)."""
    return hashlib.new(row["hash_alg"], _canonical(row)).hexdigest()


def event_hash(event: InstanceEvent) -> str:
    return row_hash({name: getattr(event, name) for name in (*_FIELDS, "hash_alg")})


@dataclass(frozen=True)
class Recorded:
    """Where an appended event sits in its chain."""

    seq: int
    hash: str


def append_event(session: Session, instance: ProcessInstance, at: datetime, actor: str, kind: str,
                 hash_alg: str, actor_role: str | None = None, task_id: str | None = None,
                 element_id: str | None = None, element_name: str | None = None,
                 data: dict[str, Any] | None = None) -> Recorded:
    """Add the next event of an instance to the chain (in the caller's transaction)."""
    row = {
        "instance_id": instance.id, "seq": instance.history_count + 1, "at": at, "actor": actor,
        "actor_role": actor_role, "kind": kind, "task_id": task_id, "element_id": element_id,
        "element_name": element_name, "data": json.loads(json.dumps(data, default=str)) if data is not None else None,
        "hash_alg": hash_alg, "prev_hash": instance.history_head,
    }
    row["hash"] = row_hash(row)
    instance.history_count = row["seq"]
    instance.history_head = row["hash"]
    buffered = session.info.get(_BUFFER)
    if buffered is not None:
        buffered.append(row)
    else:
        session.add(InstanceEvent(**row))
    return Recorded(row["seq"], row["hash"])


@contextmanager
def events_written_together(session: Session) -> Iterator[None]:
    """Within the block, appended events are kept as plain rows and inserted with one statement
    at its end, instead of one ORM object (and, on SQLite, one INSERT) each. For a group of
    steps that reads no history back: the timer sweep."""
    rows: list[dict[str, Any]] = []
    session.info[_BUFFER] = rows
    try:
        yield
        if rows:
            session.execute(InstanceEvent.__table__.insert(), rows)
    finally:
        del session.info[_BUFFER]


def events_of(session: Session, instance_id: int) -> list[InstanceEvent]:
    return list(session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == instance_id).order_by(InstanceEvent.seq)))


@dataclass
class Break:
    instance_id: int
    seq: int | None
    event_id: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "seq": self.seq, "event_id": self.event_id, "reason": self.reason}


def verify_instance(instance: ProcessInstance, events: list[InstanceEvent]) -> Break | None:
    """The first place where the recorded chain disagrees with itself, or None."""
    prev: str | None = None
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return Break(instance.id, expected_seq, event.id, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return Break(instance.id, event.seq, event.id, "link to the previous event does not match")
        if event_hash(event) != event.hash:
            return Break(instance.id, event.seq, event.id, "content does not match its hash (edited)")
        prev = event.hash
    if len(events) != instance.history_count or prev != instance.history_head:
        return Break(instance.id, len(events) + 1, None, "events after the last one present were removed")
    return None


def verify_all(session: Session, batch: int = 500) -> Iterator[tuple[int, Break | None]]:
    """Verify every instance, streaming; yields (instance_id, first break or None)."""
    last_id = 0
    while True:
        instances = list(session.scalars(
            select(ProcessInstance).where(ProcessInstance.id > last_id).order_by(ProcessInstance.id).limit(batch)))
        if not instances:
            return
        ids = [i.id for i in instances]
        by_instance: dict[int, list[InstanceEvent]] = {i: [] for i in ids}
        for event in session.scalars(select(InstanceEvent).where(InstanceEvent.instance_id.in_(ids))
                                     .order_by(InstanceEvent.instance_id, InstanceEvent.seq)):
            by_instance[event.instance_id].append(event)
        for instance in instances:
            yield instance.id, verify_instance(instance, by_instance[instance.id])
        last_id = ids[-1]
