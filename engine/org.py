"""Units, work groups and user accounts."""
from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from .context import Context
from .db.models import OrgUnit, Role, User, WorkGroup
from .errors import Conflict, ValidationFailed

# Suizhou, 2023 plan: counties and management committees, then the city departments named in it.
SUIZHOU_UNITS = [
    ("zengdu", "曾都区人民政府", "county"), ("suixian", "随县人民政府", "county"),
    ("guangshui", "广水市人民政府", "county"), ("gaoxin", "随州高新区管委会", "county"),
    ("dahongshan", "大洪山风景名胜区管委会", "county"),
    ("city_bizenv", "市营商办", "department"), ("city_econ", "市经信局", "department"),
    ("city_finance", "市财政局", "department"), ("city_audit", "市审计局", "department"),
    ("city_sasac", "市政府国资委", "department"), ("city_housing", "市住建局", "department"),
    ("city_culture", "市文旅局", "department"), ("city_data", "市政数局", "department"),
    ("city_invest", "市招商局", "department"),
]
FIVE_GROUPS = [
    ("arrears_public", "机关事业单位拖欠账款清理组", "city_econ"),
    ("arrears_soe", "国有企业拖欠账款清理组", "city_sasac"),
    ("policy", "惠企政策兑现组", "city_finance"),
    ("investment", "招商引资政策兑现组", "city_invest"),
    ("service", "政务服务优化组", "city_data"),
]
_hasher = PasswordHasher()


def hash_for_seeding(password: str) -> str:
    """One argon2 hash to give many seeded accounts (demo, tests): hashing is slow on purpose."""
    return _hasher.hash(password)


def ensure_units_and_groups(ctx: Context) -> None:
    for code, name, kind in SUIZHOU_UNITS:
        if ctx.session.get(OrgUnit, code) is None:
            ctx.session.add(OrgUnit(code=code, name=name, kind=kind))
    ctx.session.flush()
    for code, name, host in FIVE_GROUPS:
        if ctx.session.get(WorkGroup, code) is None:
            ctx.session.add(WorkGroup(code=code, name=name, host_unit=host))
    ctx.session.flush()


def create_user(ctx: Context, username: str, display_name: str, role: Role, password: str | None = None,
                unit_code: str | None = None, group_code: str | None = None,
                password_hash: str | None = None) -> User:
    """:raises Conflict: the name is taken. :raises ValidationFailed: unknown unit or group."""
    if ctx.session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    if unit_code and ctx.session.get(OrgUnit, unit_code) is None:
        raise ValidationFailed(f"unknown unit {unit_code!r}", {"unit_code": "单位不存在"})
    if group_code and ctx.session.get(WorkGroup, group_code) is None:
        raise ValidationFailed(f"unknown group {group_code!r}", {"group_code": "专班不存在"})
    user = User(username=username, display_name=display_name, role=role, unit_code=unit_code,
                group_code=group_code, password_hash=password_hash or (_hasher.hash(password) if password else None),
                active=True, created_at=ctx.now)
    ctx.session.add(user)
    return user


def list_users(ctx: Context) -> list[dict[str, Any]]:
    return [{"name": u.username, "display_name": u.display_name, "role": u.role.value, "unit": u.unit_code,
             "group": u.group_code, "active": u.active}
            for u in ctx.session.scalars(select(User).order_by(User.role, User.username))]
