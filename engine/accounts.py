"""Accounts under the rules Chinese government systems are assessed on (等保 2.0): complex
passwords hashed with argon2, lock-out after repeated failures, every login, logout, refusal
and administrative change written to the security audit."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from . import access
from .context import Context
from .db.models import ApiToken, OrgUnit, Role, SecurityEvent, User, WorkGroup
from .errors import Conflict, Forbidden, NotFound, ValidationFailed

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash("not-a-real-password-Aa1!")
TOKEN_PREFIX = "cx_"


def audit(ctx: Context, actor: str, kind: str, target: str | None = None, remote_addr: str | None = None,
          **detail: Any) -> None:
    """Record a security-relevant event in the caller's transaction."""
    ctx.session.add(SecurityEvent(at=ctx.now, actor=actor, kind=kind, target=target, remote_addr=remote_addr,
                                  detail=detail or None))


def password_problem(password: str, min_length: int) -> str | None:
    """Why a password is too weak (in Chinese), or None."""
    if len(password) < min_length:
        return f"密码长度至少 {min_length} 位"
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if classes < 3:
        return "密码须包含大写字母、小写字母、数字、特殊字符中的至少三类"
    return None


def hash_password(ctx: Context, password: str) -> str:
    """:raises ValidationFailed: the password breaks the complexity rules."""
    problem = password_problem(password, ctx.runtime.settings.password_min_length)
    if problem:
        raise ValidationFailed(problem, {"password": problem})
    return _hasher.hash(password)


@dataclass
class LoginResult:
    user: User | None
    refusal: str | None = None


def authenticate(ctx: Context, username: str, password: str, remote_addr: str | None = None) -> LoginResult:
    """Check a login; counts failures and locks the account after too many.

    A refusal is returned, not raised, so that the failure count and the audit row are
    committed with it. One message covers wrong names, passwords and disabled accounts,
    so the form does not reveal which names exist; only the lock says what it is.
    """
    settings = ctx.runtime.settings
    generic = "用户名或密码错误"
    user = ctx.session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None or user.password_hash is None:
        try:  # spend the same time as a real check, so timing does not reveal which names exist
            _hasher.verify(_DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            pass
        audit(ctx, username or "-", "login_failed", remote_addr=remote_addr, reason="unknown user")
        return LoginResult(None, generic)
    if user.locked_until is not None and user.locked_until > ctx.now:
        audit(ctx, username, "login_refused", remote_addr=remote_addr, reason="locked")
        return LoginResult(None, f"账号已锁定，请于 {settings.lockout_minutes} 分钟后再试或联系管理员")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        reason = "wrong password"
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = ctx.now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            reason = "wrong password; account locked"
        audit(ctx, username, "login_failed", remote_addr=remote_addr, reason=reason)
        return LoginResult(None, generic)
    if not user.active:
        audit(ctx, username, "login_refused", remote_addr=remote_addr, reason="disabled")
        return LoginResult(None, generic)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = ctx.now
    audit(ctx, username, "login", remote_addr=remote_addr)
    return LoginResult(user)


def active_user(ctx: Context, username: str) -> User | None:
    """The account behind a session, or None once it is disabled or gone."""
    user = ctx.session.scalar(select(User).where(User.username == username))
    return user if user is not None and user.active else None


def end_sessions(ctx: Context, user: User, actor: str, reason: str, revoke_tokens: bool = False,
                 remote_addr: str | None = None) -> None:
    """Every session of `user` stops working at its next request; with `revoke_tokens` their API tokens too."""
    user.session_generation += 1
    revoked = 0
    if revoke_tokens:
        for token in ctx.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None))):
            token.revoked_at = ctx.now
            revoked += 1
    audit(ctx, actor, "sessions_ended", target=user.username, remote_addr=remote_addr, reason=reason,
          tokens_revoked=revoked)


def session_valid(ctx: Context, username: str, generation: Any) -> bool:
    """Whether a session of `username` that carries `generation` may still be used."""
    user = active_user(ctx, username)
    return user is not None and generation == user.session_generation


def logout(ctx: Context, username: str, remote_addr: str | None = None) -> None:
    """Signing out ends every session of the user, so a copied cookie dies with it."""
    user = access.get_user(ctx.session, username)
    audit(ctx, username, "logout", remote_addr=remote_addr)
    end_sessions(ctx, user, username, "logout", remote_addr=remote_addr)


def change_password(ctx: Context, username: str, old: str, new: str) -> str | None:
    """Returns why the change was refused (recorded, so not raised), or None when done.

    Every other session ends; the caller's session carries the new `session_generation`.

    :raises ValidationFailed: the new password is too weak.
    """
    user = access.get_user(ctx.session, username)
    try:
        _hasher.verify(user.password_hash or _DUMMY_HASH, old)
    except (VerificationError, InvalidHashError):
        audit(ctx, username, "password_change_refused")
        return "原密码错误"
    user.password_hash = hash_password(ctx, new)
    user.password_changed_at = ctx.now
    audit(ctx, username, "password_changed", target=username)
    end_sessions(ctx, user, username, "password changed")
    return None


# --- administration -------------------------------------------------------------------------

def _admin(ctx: Context, admin_name: str) -> User:
    admin = access.get_user(ctx.session, admin_name)
    access.require_role(admin, Role.admin)
    return admin


def _target(ctx: Context, username: str) -> User:
    user = ctx.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def _check_scope(ctx: Context, role: Role, unit_code: str | None, group_code: str | None) -> None:
    if role == Role.unit and not unit_code:
        raise ValidationFailed("a unit handler needs a unit", {"unit_code": "责任单位用户必须选择所属单位"})
    if role in (Role.group, Role.spotcheck) and not group_code:
        raise ValidationFailed("a group member needs a group", {"group_code": "专班成员必须选择所属专班"})
    if unit_code and ctx.session.get(OrgUnit, unit_code) is None:
        raise ValidationFailed(f"unknown unit {unit_code!r}", {"unit_code": "单位不存在"})
    if group_code and ctx.session.get(WorkGroup, group_code) is None:
        raise ValidationFailed(f"unknown group {group_code!r}", {"group_code": "专班不存在"})


def admin_create_user(ctx: Context, admin_name: str, username: str, display_name: str, role: str, password: str,
                      unit_code: str | None = None, group_code: str | None = None) -> User:
    """:raises Forbidden: not an admin. :raises Conflict: name taken. :raises ValidationFailed: bad data."""
    _admin(ctx, admin_name)
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", username or ""):
        raise ValidationFailed("bad user name", {"username": "用户名须以小写字母开头，只含小写字母、数字和下划线"})
    if ctx.session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationFailed(f"unknown role {role!r}", {"role": "角色不存在"}) from None
    _check_scope(ctx, role_value, unit_code, group_code)
    user = User(username=username, display_name=display_name or username, role=role_value, unit_code=unit_code,
                group_code=group_code, password_hash=hash_password(ctx, password), active=True,
                created_at=ctx.now, password_changed_at=ctx.now)
    ctx.session.add(user)
    audit(ctx, admin_name, "user_created", target=username, role=role, unit=unit_code, group=group_code)
    return user


def admin_update_user(ctx: Context, admin_name: str, username: str, *, role: str | None = None,
                      unit_code: str | None = None, group_code: str | None = None, active: bool | None = None,
                      display_name: str | None = None, email: str | None = None) -> User:
    """Change role, unit, group, name, notification e-mail ("" clears it) or whether the account is enabled.

    :raises ValidationFailed: bad data, e.g. an e-mail address that is not one (field `email`).
    """
    admin = _admin(ctx, admin_name)
    user = _target(ctx, username)
    before = {"role": user.role.value, "unit": user.unit_code, "group": user.group_code, "active": user.active}
    if email is not None and (email.strip() or None) != user.email:
        from .notifications import set_email  # validates and records email_changed

        before["email"] = user.email
        set_email(ctx, admin_name, username, email)
    if role is not None:
        try:
            user.role = Role(role)
        except ValueError:
            raise ValidationFailed(f"unknown role {role!r}", {"role": "角色不存在"}) from None
        user.unit_code, user.group_code = unit_code, group_code
    _check_scope(ctx, user.role, user.unit_code, user.group_code)
    if active is not None:
        if not active and user.id == admin.id:
            raise Conflict("an administrator cannot disable their own account")
        if user.active and not active:
            end_sessions(ctx, user, admin_name, "account disabled", revoke_tokens=True)
        user.active = active
    if display_name:
        user.display_name = display_name
    after = {"role": user.role.value, "unit": user.unit_code, "group": user.group_code, "active": user.active}
    if "email" in before:
        after["email"] = user.email
    audit(ctx, admin_name, "user_updated", target=username, before=before, after=after)
    return user


def admin_reset_password(ctx: Context, admin_name: str, username: str, password: str) -> None:
    _admin(ctx, admin_name)
    user = _target(ctx, username)
    user.password_hash = hash_password(ctx, password)
    user.password_changed_at = ctx.now
    user.failed_logins, user.locked_until = 0, None
    audit(ctx, admin_name, "password_reset", target=username)
    # Whoever knew the old password may hold a session or a token made with it.
    end_sessions(ctx, user, admin_name, "password reset", revoke_tokens=True)


def _check_exists(row: Any, code: str, creating: bool, what: str) -> None:
    """:raises Conflict: creating a code that exists. :raises NotFound: updating one that does not."""
    if creating and row is not None:
        raise Conflict(f"{what} {code!r} already exists")
    if not creating and row is None:
        raise NotFound(f"{what} {code!r} does not exist")


def admin_save_unit(ctx: Context, admin_name: str, code: str, name: str, kind: str,
                    creating: bool = False) -> OrgUnit:
    """Create (refusing an existing code) or update (refusing an unknown one) a unit."""
    _admin(ctx, admin_name)
    _check_exists(ctx.session.get(OrgUnit, code), code, creating, "unit")
    if kind not in ("county", "department") or not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", code or "") or not name:
        raise ValidationFailed("bad unit", {"code": "编码须为小写字母开头的字母数字", "kind": "county 或 department"})
    unit = ctx.session.get(OrgUnit, code)
    if unit is None:
        unit = OrgUnit(code=code, name=name, kind=kind)
        ctx.session.add(unit)
    else:
        unit.name, unit.kind = name, kind
    audit(ctx, admin_name, "unit_saved", target=code, name=name, unit_kind=kind)
    return unit


def admin_save_group(ctx: Context, admin_name: str, code: str, name: str, host_unit: str | None,
                     creating: bool = False) -> WorkGroup:
    """Create (refusing an existing code) or update (refusing an unknown one) a work group."""
    _admin(ctx, admin_name)
    _check_exists(ctx.session.get(WorkGroup, code), code, creating, "work group")
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", code or "") or not name:
        raise ValidationFailed("bad group", {"code": "编码须为小写字母开头的字母数字"})
    if host_unit and ctx.session.get(OrgUnit, host_unit) is None:
        raise ValidationFailed("unknown unit", {"host_unit": "单位不存在"})
    group = ctx.session.get(WorkGroup, code)
    if group is None:
        group = WorkGroup(code=code, name=name, host_unit=host_unit)
        ctx.session.add(group)
    else:
        group.name, group.host_unit = name, host_unit
    audit(ctx, admin_name, "group_saved", target=code, name=name, host_unit=host_unit)
    return group


# --- API tokens -------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: Context, username: str, name: str) -> dict[str, Any]:
    """A new bearer token; the plain value is returned once and never stored."""
    user = access.get_user(ctx.session, username)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name or "token", token_hash=_token_hash(plain), created_at=ctx.now)
    ctx.session.add(token)
    ctx.session.flush()
    audit(ctx, username, "token_created", target=str(token.id), name=token.name)
    return {"id": token.id, "name": token.name, "token": plain, "created_at": ctx.now.isoformat()}


def list_tokens(ctx: Context, username: str) -> list[dict[str, Any]]:
    user = access.get_user(ctx.session, username)
    return [{"id": t.id, "name": t.name, "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
             "revoked": t.revoked_at is not None}
            for t in ctx.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))]


def revoke_token(ctx: Context, username: str, token_id: int) -> None:
    """:raises NotFound: not one of this user's tokens."""
    user = access.get_user(ctx.session, username)
    token = ctx.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"token {token_id} does not exist")
    token.revoked_at = token.revoked_at or ctx.now
    audit(ctx, username, "token_revoked", target=str(token_id))


def user_for_token(ctx: Context, plain: str) -> User:
    """:raises Forbidden: unknown or revoked token, or a disabled account."""
    token = ctx.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None:
        raise Forbidden("invalid API token")
    user = ctx.session.get(User, token.user_id)
    if user is None or not user.active:
        raise Forbidden("invalid API token")
    token.last_used_at = ctx.now
    return user
