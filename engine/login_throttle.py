"""Sign-in throttling per address and per (account, address), kept in the database so that every
web process counts the same failures.

Failures used to be counted on the account: anyone could lock anyone out by typing their name
five times, and only a real account answered "locked" (quickly, without a hash), which told
which names exist. Now a block holds one address: for one name after `max_failed_logins`
failures, each next block twice as long (up to `lockout_minutes`), and for every name after
`login_ip_max_failures` failures in a window. A name that does not exist is counted exactly
like one that does, and a blocked attempt is answered before any password is checked.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import audit
from .context import Context
from .db.models import LoginThrottle
from .db.session import is_postgresql

ANY_NAME = ""  # the username of an address's own row
# A (name, address) quiet this long starts again from the first, short block.
FORGET_AFTER = timedelta(days=1)


def _key(username: str | None, remote_addr: str | None) -> tuple[str, str]:
    return (remote_addr or "-")[:64], (username or "").strip().lower()[:64]


def blocked_until(ctx: Context, username: str | None, remote_addr: str | None) -> datetime | None:
    """When sign-ins of `username` from `remote_addr` may be tried again, or None when they may now."""
    addr, name = _key(username, remote_addr)
    ends = ctx.session.scalars(select(LoginThrottle.blocked_until).where(
        LoginThrottle.remote_addr == addr, LoginThrottle.username.in_({ANY_NAME, name}),
        LoginThrottle.blocked_until > ctx.now))
    return max(ends, default=None)


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _row(ctx: Context, addr: str, name: str) -> LoginThrottle:
    # Insert-or-nothing, then lock: two processes counting the first failure at once both count it.
    insert = pg_insert if is_postgresql(ctx.session) else sqlite_insert
    ctx.session.execute(insert(LoginThrottle).values(
        remote_addr=addr, username=name, failures=0, blocks=0, window_started_at=ctx.now,
        last_failure_at=ctx.now).on_conflict_do_nothing(index_elements=["remote_addr", "username"]))
    row = ctx.session.scalar(select(LoginThrottle).where(LoginThrottle.remote_addr == addr,
                                                         LoginThrottle.username == name)
                             .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def failed(ctx: Context, username: str | None, remote_addr: str | None) -> None:
    """Count a failed sign-in; a block that starts is written to the security audit."""
    settings = ctx.runtime.settings
    addr, name = _key(username, remote_addr)
    now = ctx.now
    ctx.session.execute(delete(LoginThrottle).where(  # this address's old, finished rows
        LoginThrottle.remote_addr == addr, LoginThrottle.last_failure_at < now - FORGET_AFTER,
        (LoginThrottle.blocked_until.is_(None)) | (LoginThrottle.blocked_until < now)))

    per_address = _row(ctx, addr, ANY_NAME)
    if per_address.window_started_at <= now - timedelta(minutes=settings.login_ip_window_minutes):
        per_address.failures, per_address.window_started_at = 0, now
    per_address.failures += 1
    per_address.last_failure_at = now
    if per_address.failures >= settings.login_ip_max_failures:
        per_address.blocked_until = now + timedelta(minutes=settings.lockout_minutes)
        per_address.failures, per_address.window_started_at = 0, now
        per_address.blocks += 1
        audit.record(ctx, "-", "login_blocked", target=addr, remote_addr=remote_addr, scope="address",
                     minutes=settings.lockout_minutes)

    account = _row(ctx, addr, name)
    if account.last_failure_at < now - FORGET_AFTER:
        account.failures, account.blocks = 0, 0
    account.failures += 1
    account.last_failure_at = now
    if account.failures >= settings.max_failed_logins:
        minutes = min(settings.login_first_block_minutes * 2 ** account.blocks, settings.lockout_minutes)
        account.blocked_until = now + timedelta(minutes=minutes)
        account.failures = 0
        account.blocks += 1
        audit.record(ctx, name or "-", "login_blocked", target=name or "-", remote_addr=remote_addr,
                     scope="account from address", minutes=minutes)


def succeeded(ctx: Context, username: str, remote_addr: str | None) -> None:
    """A right password from this address clears this account's count there (not the address's)."""
    addr, name = _key(username, remote_addr)
    ctx.session.execute(delete(LoginThrottle).where(LoginThrottle.remote_addr == addr,
                                                    LoginThrottle.username == name))


def lift(ctx: Context, username: str) -> None:
    """An administrator's reset: every block of this account, from every address, ends."""
    _, name = _key(username, None)
    ctx.session.execute(delete(LoginThrottle).where(LoginThrottle.username == name))


def account_blocks(ctx: Context, usernames: list[str] | None = None) -> dict[str, tuple[int, datetime | None]]:
    """Username -> (failures counted, latest block end still ahead) over every address, for the admin pages."""
    query = select(LoginThrottle.username, LoginThrottle.failures, LoginThrottle.blocked_until).where(
        LoginThrottle.username != ANY_NAME)
    if usernames is not None:
        query = query.where(LoginThrottle.username.in_(usernames))
    state: dict[str, tuple[int, datetime | None]] = {}
    for name, failures, until in ctx.session.execute(query):
        count, latest = state.get(name, (0, None))
        ahead = until if until is not None and until > ctx.now else None
        state[name] = (count + failures, max((t for t in (latest, ahead) if t is not None), default=None))
    return state
