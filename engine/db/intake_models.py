"""Accidental double work at intake: one-time submission tokens and forms kept across a sign-in (migration 0016)."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Code, Utc


class SubmissionToken(Base):
    """One form instance (or API Idempotency-Key) that has been submitted.

    The row is inserted in the same transaction as the clue it created, so the primary key is
    what makes a double click, Back + resubmit or a client's retry create one clue: the second
    insert conflicts (PostgreSQL waits for the first transaction, SQLite queues on its write
    lock) and the caller is sent to `clue_id` instead. Keyed per user because API clients
    choose their own keys.
    """

    __tablename__ = "submission_token"
    username: Mapped[Code] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    form: Mapped[Code]
    fingerprint: Mapped[str] = mapped_column(String(64))   # SHA-256 of the submitted data
    used_at: Mapped[Utc] = mapped_column(index=True)
    clue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("clue.id"))


class KeptForm(Base):
    """A form posted after its session ended, kept server-side until its author signs in again.

    Kept in the database, not the cookie session: a 问题概述 of a few thousand characters does
    not fit a 4 KB cookie. The browser holds only `key`. `username` is who was signed in when it
    is known (idle timeout, CSRF mismatch while signed in); only that user gets it back.
    """

    __tablename__ = "kept_form"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    username: Mapped[Optional[Code]]
    fields: Mapped[list[Any]]   # [[name, value], ...] in the posted order (repeated names kept)
    created_at: Mapped[Utc] = mapped_column(index=True)
