"""Forms posted after their session ended (sign-out elsewhere, idle timeout, stale CSRF token),
kept until their author has signed in again and reopened the page — so typed work is not lost.

A kept form is a list of (name, value) text pairs; files are not kept. Rows live at most
KEEP_FOR and are taken (deleted) when read; each `keep` also clears expired ones, so anonymous
posts cannot pile rows up for longer than that.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from .context import Context
from .db.intake_models import KeptForm

KEEP_FOR = timedelta(hours=12)
MAX_CHARS = 200_000  # the longest form (intake: 5,000-character summary) is far below this


def keep(ctx: Context, path: str, fields: list[tuple[str, str]], username: str | None) -> str | None:
    """Keep a posted form for `path`; returns its key, or None when there is nothing to keep."""
    ctx.session.execute(delete(KeptForm).where(KeptForm.created_at < ctx.now - KEEP_FOR))
    pairs: list[list[str]] = []
    size = 0
    for name, value in fields:
        size += len(name) + len(value)
        if size > MAX_CHARS:
            break
        pairs.append([name, value])
    if not any(value.strip() for _, value in pairs):
        return None
    key = secrets.token_urlsafe(24)
    ctx.session.add(KeptForm(key=key, path=path[:500], username=username, fields=pairs, created_at=ctx.now))
    return key


def take(ctx: Context, key: str, path: str, username: str) -> list[tuple[str, str]] | None:
    """The form kept under `key` for `path`, for `username` — and it is gone afterwards.

    None when there is none, it expired, it is for another page (left for that page), or it was
    kept for someone else (then it is dropped: it must never reach another user).
    """
    kept: Any = ctx.session.get(KeptForm, key)
    if kept is None:
        return None
    if kept.created_at < ctx.now - KEEP_FOR or (kept.username is not None and kept.username != username):
        ctx.session.delete(kept)
        return None
    if kept.path != path:
        return None
    ctx.session.delete(kept)
    return [(name, value) for name, value in kept.fields]
