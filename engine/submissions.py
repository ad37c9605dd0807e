"""One-time submission tokens: a form instance (or an API Idempotency-Key) registers at most one clue.

`claim` runs first in the registering transaction and inserts the token row with ON CONFLICT
DO NOTHING. A second submission with the same token — a double click 63 ms later, Back and
submit again, a client retrying after a timeout — finds the row: on PostgreSQL its insert
waits until the first transaction commits (or rolls back, and then it claims the token
itself), on SQLite the BEGIN IMMEDIATE write lock already queues it. Either way it reads the
committed clue id and creates nothing. A refused submission (validation error) rolls the
claim back with everything else, so the corrected form can reuse its token.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .context import Context
from .db.intake_models import SubmissionToken
from .errors import Conflict, ValidationFailed

# Printable ASCII without spaces: what a browser form carries and the Idempotency-Key draft allows.
_TOKEN = re.compile(r"^[\x21-\x7e]{1,100}$")
# The intake page's window for Back + resubmit with a re-fetched form (see `claim`).
RESUBMIT_WINDOW = timedelta(minutes=30)


def new_token() -> str:
    """A token for one rendered form."""
    return secrets.token_urlsafe(24)


def fingerprint(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Earlier:
    """The submission that used the token first."""

    clue_id: int
    same_data: bool


def claim(ctx: Context, username: str, token: str, form: str, data: Any, field: str = "submission_token",
          resubmit_window: timedelta | None = None) -> Earlier | None:
    """Take `token` for this submission, or say which clue it already made.

    With `resubmit_window`, a new token whose data is exactly what the same user submitted
    within that window also counts as the earlier submission: Back re-fetches the form page
    (the session cookie changes on every request, so the cached page no longer matches)
    with a fresh token, while the browser puts the typed fields back.

    :raises ValidationFailed: a malformed token (named `field`, so the API can say which header).
    :raises Conflict: the token's row has no clue (cannot happen while claim and record share
        a transaction; refused rather than registering twice).
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValidationFailed("提交标识无效", {field: "应为 1–100 个可打印 ASCII 字符"})
    digest = fingerprint(data)
    values = {"username": username, "token": token, "form": form, "fingerprint": digest, "used_at": ctx.now}
    dialect = ctx.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING, not rowcount: through the ORM session psycopg reports no row count for this insert.
    claimed = ctx.session.execute(insert(SubmissionToken).values(**values).on_conflict_do_nothing()
                                  .returning(SubmissionToken.token)).first()
    if claimed is not None:
        if resubmit_window is None:
            return None
        same = ctx.session.scalars(select(SubmissionToken.clue_id).where(
            SubmissionToken.username == username, SubmissionToken.form == form,
            SubmissionToken.fingerprint == digest, SubmissionToken.used_at >= ctx.now - resubmit_window,
            SubmissionToken.clue_id.is_not(None), SubmissionToken.token != token,
        ).order_by(SubmissionToken.used_at.desc()).limit(1)).first()
        if same is None:
            return None
        record(ctx, username, token, same)  # so this token, too, leads to that clue
        return Earlier(clue_id=same, same_data=True)
    row = ctx.session.execute(select(SubmissionToken.clue_id, SubmissionToken.fingerprint).where(
        SubmissionToken.username == username, SubmissionToken.token == token)).one()
    if row.clue_id is None:
        raise Conflict("该表单已提交，正在处理中")
    return Earlier(clue_id=row.clue_id, same_data=row.fingerprint == digest)


def record(ctx: Context, username: str, token: str, clue_id: int) -> None:
    """Note the clue the claimed token made (same transaction as `claim`)."""
    ctx.session.execute(update(SubmissionToken).where(
        SubmissionToken.username == username, SubmissionToken.token == token).values(clue_id=clue_id))
