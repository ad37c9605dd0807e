"""Tables for the designer: form definitions and drafts (issue 4; migration 0009)."""
from __future__ import annotations

from sqlalchemy import Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Code, Utc
from .models import ProcessInstance

# The designer's listing counts instances per version and status in one GROUP BY; this index
# covers it, so the count reads the index alone instead of every instance row.
Index("ix_process_instance_definition_id_status", ProcessInstance.definition_id, ProcessInstance.status)


class FormDraft(Base):
    """One saved version of a form definition edited in the designer (forms/<key>.json shape).

    Versions are numbered per key from 1 and never change once saved. They are drafts: task
    pages still read forms/ (engine.forms.FormRegistry); a draft goes live by being committed
    to forms/ (downloaded from the designer).
    """

    __tablename__ = "form_draft"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[Code] = mapped_column(index=True)
    version: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[Code]
    saved_at: Mapped[Utc]
