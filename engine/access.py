"""Who may act on which task, as a Python check and as the equivalent SQL filter."""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from .db.models import Clue, HumanTask, Role, User
from .errors import Forbidden, NotFound

# The office is also the "group" of categories no work group owns (兜底督办, DOMAIN.md).
OFFICE_GROUP = "office"
LANE_ROLE = {
    "office": Role.office,
    "work_group": Role.group,
    "responsible_unit": Role.unit,
    "spot_check": Role.spotcheck,
    "discipline": Role.discipline,
}
SEES_EVERYTHING = {Role.office, Role.supervisor, Role.discipline, Role.admin}


def get_user(session: Session, username: str) -> User:
    """:raises NotFound: unknown user. :raises Forbidden: disabled account."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    if not user.active:
        raise Forbidden(f"user {username!r} is disabled")
    return user


def can_act(user: User, task: HumanTask) -> bool:
    if task.lane is None:
        return task.started_by == user.username
    role = LANE_ROLE.get(task.lane)
    if role is None:
        return False
    if task.lane in ("work_group", "spot_check"):
        if task.candidate_group == OFFICE_GROUP:
            return user.role == Role.office
        return user.role == role and task.candidate_group is not None and task.candidate_group == user.group_code
    if task.lane == "responsible_unit":
        return user.role == role and task.candidate_unit is not None and task.candidate_unit == user.unit_code
    return user.role == role


def actionable_filter(user: User) -> ColumnElement[bool]:
    """SQL twin of can_act, for inbox queries."""
    own = and_(HumanTask.lane.is_(None), HumanTask.started_by == user.username)
    role_rule: ColumnElement[bool] = false()
    if user.role == Role.office:
        role_rule = or_(HumanTask.lane == "office",
                        and_(HumanTask.lane.in_(["work_group", "spot_check"]), HumanTask.candidate_group == OFFICE_GROUP))
    elif user.role in (Role.group, Role.spotcheck) and user.group_code:
        lane = "work_group" if user.role == Role.group else "spot_check"
        role_rule = and_(HumanTask.lane == lane, HumanTask.candidate_group == user.group_code)
    elif user.role == Role.unit and user.unit_code:
        role_rule = and_(HumanTask.lane == "responsible_unit", HumanTask.candidate_unit == user.unit_code)
    elif user.role == Role.discipline:
        role_rule = HumanTask.lane == "discipline"
    return or_(own, role_rule)


def require_can_act(user: User, task: HumanTask) -> None:
    """:raises Forbidden: the task belongs to another lane, unit or group."""
    if not can_act(user, task):
        raise Forbidden(f"user {user.username!r} may not act on task {task.id} ({task.title})")


def require_can_view(user: User, task: HumanTask) -> None:
    """:raises Forbidden: neither the task's handler nor someone who sees all clues."""
    if user.role not in SEES_EVERYTHING and not can_act(user, task):
        raise Forbidden(f"user {user.username!r} may not see task {task.id}")


def require_role(user: User, *roles: Role) -> None:
    """:raises Forbidden: the user's role is not one of `roles`."""
    if user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}; {user.username!r} is {user.role.value}")


# --- clues ----------------------------------------------------------------------------------

def clue_scope(user: User) -> ColumnElement[bool]:
    """SQL filter: the clues a user may see (a unit only its own, a group only its group's)."""
    if user.role in SEES_EVERYTHING:
        return true()
    if user.role in (Role.group, Role.spotcheck) and user.group_code:
        return Clue.work_group == user.group_code
    if user.role == Role.unit and user.unit_code:
        return Clue.responsible_unit == user.unit_code
    return false()


def can_see_clue(user: User, clue: Clue) -> bool:
    """Python twin of clue_scope."""
    if user.role in SEES_EVERYTHING:
        return True
    if user.role in (Role.group, Role.spotcheck):
        return user.group_code is not None and clue.work_group == user.group_code
    if user.role == Role.unit:
        return user.unit_code is not None and clue.responsible_unit == user.unit_code
    return False


def require_can_see_clue(user: User, clue: Clue) -> None:
    """:raises Forbidden: the clue belongs to another unit or group."""
    if not can_see_clue(user, clue):
        raise Forbidden(f"user {user.username!r} may not see clue {clue.id}")


def sees_complainant(user: User) -> bool:
    """Who complained is shown to the office and discipline inspectors only."""
    return user.role in (Role.office, Role.discipline)
