"""A user's own display preferences, kept with the account (not in the browser) so that they
follow the user to another browser and survive signing in again."""
from __future__ import annotations

from .accounts import active_user
from .context import Context
from .errors import NotFound


def set_large_text(ctx: Context, username: str, on: bool) -> bool:
    """Switch 大字模式 (larger text, stronger contrast; the 2020 适老化 rules) for one user."""
    user = active_user(ctx, username)
    if user is None:
        raise NotFound(f"no active user {username}")
    user.large_text = on
    return on
