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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import InstanceEvent, ProcessInstance


def _canonical(event: InstanceEvent) -> bytes:
    body = {
        "instance_id": event.instance_id, "seq": event.seq, "at": event.at.isoformat(),
        "actor": event.actor, "actor_role": event.actor_role, "kind": event.kind,
        "task_id": event.task_id, "element_id": event.element_id, "element_name": event.element_name,
        "data": event.data, "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def event_hash(event: InstanceEvent) -> str:
    return hashlib.new(event.hash_alg, _canonical(event)).hexdigest()


def append_event(session: Session, instance: ProcessInstance, at: datetime, actor: str, kind: str,
                 hash_alg: str, actor_role: str | None = None, task_id: str | None = None,
                 element_id: str | None = None, element_name: str | None = None,
                 data: dict[str, Any] | None = None) -> InstanceEvent:
    """Add the next event of an instance to the chain (in the caller's transaction)."""
    event = InstanceEvent(
        instance_id=instance.id, seq=instance.history_count + 1, at=at, actor=actor, actor_role=actor_role,
        kind=kind, task_id=task_id, element_id=element_id, element_name=element_name,
        data=json.loads(json.dumps(data, default=str)) if data is not None else None,
        hash_alg=hash_alg, prev_hash=instance.history_head,
    )
    event.hash = event_hash(event)
    instance.history_count = event.seq
    instance.history_head = event.hash
    session.add(event)
    return event


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
