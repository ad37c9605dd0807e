"""Read-only views of accounts, units, work groups and the security audit, for administrators.

Every function here checks that the caller is an administrator (raises Forbidden otherwise),
so a web view never decides that by itself. Changes go through accounts.admin_*.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from . import access, login_throttle
from .context import Context
from .db.models import ApiToken, OrgUnit, Role, SecurityEvent, User, WorkGroup
from .errors import NotFound

MAX_PER_PAGE = 200


def require_admin(ctx: Context, admin_name: str) -> None:
    """:raises Forbidden: not an administrator (or a disabled account). :raises NotFound: unknown user."""
    access.require_role(access.get_user(ctx.session, admin_name), Role.admin)


def _user_row(ctx: Context, user: User, unit_name: str | None, group_name: str | None,
              blocks: dict[str, tuple[int, datetime | None]]) -> dict[str, Any]:
    # "Locked" is a block of this account from at least one address (engine.login_throttle).
    failures, locked_until = blocks.get(user.username, (0, None))
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role.value,
        "unit_code": user.unit_code, "unit_name": unit_name, "group_code": user.group_code, "group_name": group_name,
        "active": user.active, "locked": locked_until is not None,
        "locked_until": locked_until, "failed_logins": failures, "created_at": user.created_at,
        "last_login_at": user.last_login_at, "password_changed_at": user.password_changed_at, "email": user.email,
    }


def _users_query() -> Any:
    return (select(User, OrgUnit.name, WorkGroup.name)
            .outerjoin(OrgUnit, OrgUnit.code == User.unit_code)
            .outerjoin(WorkGroup, WorkGroup.code == User.group_code))


def list_users(ctx: Context, admin_name: str, role: str | None = None, q: str | None = None) -> list[dict[str, Any]]:
    """Every account with its unit's and group's names, by role then name; optionally one role
    or names containing `q` (user name or display name)."""
    require_admin(ctx, admin_name)
    query = _users_query().order_by(User.role, User.username)
    if role:
        try:
            query = query.where(User.role == Role(role))
        except ValueError:
            return []
    if q:
        q = q.strip()
        query = query.where(User.username.contains(q.lower(), autoescape=True)
                            | User.display_name.contains(q, autoescape=True))
    rows = list(ctx.session.execute(query))
    blocks = login_throttle.account_blocks(ctx)
    return [_user_row(ctx, user, unit_name, group_name, blocks) for user, unit_name, group_name in rows]


def get_user(ctx: Context, admin_name: str, username: str) -> dict[str, Any]:
    """One account, with the number of its API tokens still valid. :raises NotFound: no such user."""
    require_admin(ctx, admin_name)
    row = ctx.session.execute(_users_query().where(User.username == username)).first()
    if row is None:
        raise NotFound(f"user {username!r} does not exist")
    user, unit_name, group_name = row
    tokens = ctx.session.scalar(select(func.count(ApiToken.id))
                                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    blocks = login_throttle.account_blocks(ctx, [user.username])
    return {**_user_row(ctx, user, unit_name, group_name, blocks), "active_tokens": tokens or 0}


def list_units(ctx: Context, admin_name: str) -> list[dict[str, Any]]:
    """Units by kind (counties first) then code, each with how many accounts belong to it."""
    require_admin(ctx, admin_name)
    users = (select(User.unit_code, func.count(User.id).label("n")).where(User.unit_code.is_not(None))
             .group_by(User.unit_code).subquery())
    query = (select(OrgUnit, func.coalesce(users.c.n, 0)).outerjoin(users, users.c.unit_code == OrgUnit.code)
             .order_by(OrgUnit.kind, OrgUnit.code))
    return [{"code": u.code, "name": u.name, "kind": u.kind, "users": n} for u, n in ctx.session.execute(query)]


def find_unit(ctx: Context, admin_name: str, code: str) -> dict[str, Any] | None:
    require_admin(ctx, admin_name)
    unit = ctx.session.get(OrgUnit, code)
    return None if unit is None else {"code": unit.code, "name": unit.name, "kind": unit.kind}


def get_unit(ctx: Context, admin_name: str, code: str) -> dict[str, Any]:
    """:raises NotFound: no such unit."""
    unit = find_unit(ctx, admin_name, code)
    if unit is None:
        raise NotFound(f"unit {code!r} does not exist")
    return unit


def list_groups(ctx: Context, admin_name: str) -> list[dict[str, Any]]:
    """Work groups by code, with the host unit's name and how many accounts belong to each."""
    require_admin(ctx, admin_name)
    host = aliased(OrgUnit)
    users = (select(User.group_code, func.count(User.id).label("n")).where(User.group_code.is_not(None))
             .group_by(User.group_code).subquery())
    query = (select(WorkGroup, host.name, func.coalesce(users.c.n, 0))
             .outerjoin(host, host.code == WorkGroup.host_unit)
             .outerjoin(users, users.c.group_code == WorkGroup.code)
             .order_by(WorkGroup.code))
    return [{"code": g.code, "name": g.name, "host_unit": g.host_unit, "host_unit_name": host_name, "users": n}
            for g, host_name, n in ctx.session.execute(query)]


def find_group(ctx: Context, admin_name: str, code: str) -> dict[str, Any] | None:
    require_admin(ctx, admin_name)
    group = ctx.session.get(WorkGroup, code)
    return None if group is None else {"code": group.code, "name": group.name, "host_unit": group.host_unit}


def get_group(ctx: Context, admin_name: str, code: str) -> dict[str, Any]:
    """:raises NotFound: no such work group."""
    group = find_group(ctx, admin_name, code)
    if group is None:
        raise NotFound(f"work group {code!r} does not exist")
    return group


def security_events(ctx: Context, admin_name: str, actor: str | None = None, kind: str | None = None,
                    target: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """The security audit, newest first, paged in the database: `{"items": [...], "total": N}`."""
    require_admin(ctx, admin_name)
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    conditions = []
    if actor:
        conditions.append(SecurityEvent.actor == actor.strip())
    if kind:
        conditions.append(SecurityEvent.kind == kind.strip())
    if target:
        conditions.append(SecurityEvent.target == target.strip())
    total = ctx.session.scalar(select(func.count(SecurityEvent.id)).where(*conditions)) or 0
    rows = ctx.session.scalars(select(SecurityEvent).where(*conditions)
                               .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
                               .offset((page - 1) * per_page).limit(per_page))
    items = [{"id": e.id, "at": e.at, "actor": e.actor, "kind": e.kind, "target": e.target,
              "remote_addr": e.remote_addr, "detail": e.detail} for e in rows]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def security_event_kinds(ctx: Context, admin_name: str) -> list[str]:
    """The kinds of event recorded so far, for the audit page's filter."""
    require_admin(ctx, admin_name)
    return list(ctx.session.scalars(select(SecurityEvent.kind).distinct().order_by(SecurityEvent.kind)))
