"""Tables for instance migrations between process versions (issue 4; migration 0007)."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Code, Utc


class InstanceMigration(Base):
    """One instance moved from one version of its process to another, with what undo needs.

    `before_state` is the workflow blob exactly as it was, so undo restores it byte for byte;
    `after_state_hash` and `after_history_count` tell undo whether the instance has moved on
    since (then undo is refused rather than losing that work).
    """

    __tablename__ = "instance_migration"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_id: Mapped[Code]
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    from_version: Mapped[int]
    to_version: Mapped[int]
    before_state: Mapped[str] = mapped_column(Text)
    before_serializer_version: Mapped[str] = mapped_column(String(16))
    after_state_hash: Mapped[str] = mapped_column(String(128))
    after_history_count: Mapped[int]
    tasks: Mapped[Optional[list[Any]]]  # [{"task_id", "element_id", "state"}] of the active tasks moved
    migrated_by: Mapped[Code]
    migrated_at: Mapped[Utc] = mapped_column(index=True)
    undone_by: Mapped[Optional[Code]]
    undone_at: Mapped[Optional[Utc]]
