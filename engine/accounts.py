"""Accounts under the rules Chinese government systems are assessed on (等保 2.0): complex,
unguessable passwords hashed with argon2 (engine.passwords), sign-ins throttled per address
(engine.login_throttle), every login, logout, refusal and administrative change written to the
security audit (engine.audit)."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from . import access, login_throttle, passwords
from .audit import record as audit  # the name callers have always used: accounts.audit
from .audit import record_counted
from .context import Context
from .db.models import ApiToken, OrgUnit, PasswordHistory, Role, User, WorkGroup
from .errors import Conflict, Forbidden, NotFound, ValidationFailed

TOKEN_PREFIX = "cx_"
WRONG = "用户名或密码错误"


def password_problem(password: str, min_length: int, personal: tuple[str, ...] = (), min_score: int = 3) -> str | None:
    """Why a password is too weak (in Chinese, with what to do instead), or None."""
    return passwords.weakness(password, min_length, min_score, personal)


def hash_password(ctx: Context, password: str, user: User | None = None, personal: tuple[str, ...] = ()) -> str:
    """The argon2 hash of a new password for `user` (None: an account being created).

    :raises ValidationFailed: the password is too weak or guessable, or (field `password`) it is
        the account's current password or one of its `password_history` before.
    """
    settings = ctx.runtime.settings
    if user is not None:
        personal = (user.username, user.display_name, *personal)
    problem = password_problem(password, settings.password_min_length, personal, settings.password_min_score)
    if problem:
        raise ValidationFailed(problem, {"password": problem})
    if user is not None and passwords.reused(password, [user.password_hash, *_recent_hashes(ctx, user)]):
        message = passwords.reuse_message(settings.password_history)
        raise ValidationFailed("password used before", {"password": message})
    return passwords.hasher.hash(password)


def _recent_hashes(ctx: Context, user: User) -> list[str]:
    return list(ctx.session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
                                    .order_by(PasswordHistory.id.desc()).limit(ctx.runtime.settings.password_history)))


def _set_password(ctx: Context, user: User, password: str) -> None:
    """:raises ValidationFailed: see hash_password."""
    new_hash = hash_password(ctx, password, user)
    if user.password_hash:
        ctx.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, replaced_at=ctx.now))
        ctx.session.flush()
        kept = list(ctx.session.scalars(select(PasswordHistory.id).where(PasswordHistory.user_id == user.id)
                                        .order_by(PasswordHistory.id.desc()).limit(ctx.runtime.settings.password_history)))
        ctx.session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user.id,
                                                          PasswordHistory.id.not_in(kept)))
    user.password_hash = new_hash
    user.password_changed_at = ctx.now


@dataclass
class LoginResult:
    user: User | None
    refusal: str | None = None
    retry_after: int | None = None  # seconds, when the attempt was not even checked (throttled)


def authenticate(ctx: Context, username: str, password: str, remote_addr: str | None = None) -> LoginResult:
    """Check a login, throttled per address and per (account, address) (engine.login_throttle).

    A refusal is returned, not raised, so that the count and the audit row are committed with
    it. Whether the name exists changes neither the answer nor its time: a wrong name, password or
    disabled account all say the same after one hash, and a throttled attempt says the same for
    any name, before any hash.
    """
    until = login_throttle.blocked_until(ctx, username, remote_addr)
    if until is not None:
        record_counted(ctx, (username or "-")[:64], "login_throttled", remote_addr or "-", remote_addr)
        minutes = login_throttle.minutes_left(until, ctx.now)
        return LoginResult(None, f"登录失败次数过多，已暂停从此处登录，请 {minutes} 分钟后再试；"
                                 "如忘记密码，请联系系统管理员重置", int((until - ctx.now).total_seconds()) + 1)
    user = ctx.session.scalar(select(User).where(User.username == username).with_for_update())
    if not passwords.verify(user.password_hash if user is not None else None, password) or user is None:
        login_throttle.failed(ctx, username, remote_addr)
        audit(ctx, (username or "-")[:64], "login_failed", remote_addr=remote_addr,
              reason="unknown user" if user is None or user.password_hash is None else "wrong password")
        return LoginResult(None, WRONG)
    if not user.active:
        audit(ctx, username, "login_refused", remote_addr=remote_addr, reason="disabled")
        return LoginResult(None, WRONG)
    login_throttle.succeeded(ctx, username, remote_addr)
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

    :raises ValidationFailed: the new password is too weak, guessable or used before.
    """
    user = access.get_user(ctx.session, username)
    if not passwords.verify(user.password_hash, old):
        audit(ctx, username, "password_change_refused")
        return "原密码错误"
    _set_password(ctx, user, new)
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
                group_code=group_code, password_hash=hash_password(ctx, password, personal=(username, display_name)),
                active=True,
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
    """A new password set by an administrator; every sign-in block of the account ends.

    :raises ValidationFailed: too weak, guessable or one the account used recently.
    """
    _admin(ctx, admin_name)
    user = _target(ctx, username)
    _set_password(ctx, user, password)
    login_throttle.lift(ctx, username)
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
