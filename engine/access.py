"""Who may act on which task, as a Python check and as the equivalent SQL filter."""
from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from .db.models import Clue, HumanTask, Role, User
from .errors import Forbidden, NotFound

# The office is also the "group" of categories no work group owns (兜底督办, DOMAIN.md).
OFFICE_GROUP = "office"
SEES_EVERYTHING = {Role.office, Role.supervisor, Role.discipline, Role.admin}


def get_user(session: Session, username: str) -> User:
    """:raises NotFound: unknown user. :raises Forbidden: disabled account."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    if not user.active:
        raise Forbidden(f"user {username!r} is disabled")
    return user


def task_audience(lane: str | None, candidate_unit: str | None, candidate_group: str | None,
                  started_by: str | None) -> str:
    """Who a READY task is for, as one indexed key (human_task.audience).

    Stored with the task so that every inbox is one index range, and so that the check on a
    single task and the inbox query cannot drift apart: both compare audiences.
    """
    if lane is None:
        return f"user:{started_by}"
    if lane in ("work_group", "spot_check"):
        if candidate_group == OFFICE_GROUP:
            return "role:office"
        if not candidate_group:
            return "nobody"
        return f"{'group' if lane == 'work_group' else 'spotcheck'}:{candidate_group}"
    if lane == "responsible_unit":
        return f"unit:{candidate_unit}" if candidate_unit else "nobody"
    if lane in ("office", "discipline"):
        return f"role:{lane}"
    return "nobody"


def role_audience(user: User) -> str | None:
    """The audience a user serves by role and unit or group (besides their own instances)."""
    if user.role in (Role.office, Role.discipline):
        return f"role:{user.role.value}"
    if user.role == Role.group and user.group_code:
        return f"group:{user.group_code}"
    if user.role == Role.spotcheck and user.group_code:
        return f"spotcheck:{user.group_code}"
    if user.role == Role.unit and user.unit_code:
        return f"unit:{user.unit_code}"
    return None


def audiences(user: User) -> list[str]:
    own = f"user:{user.username}"
    by_role = role_audience(user)
    return [own, by_role] if by_role else [own]


def can_act(user: User, task: HumanTask) -> bool:
    return user.active and task.audience in audiences(user)


def require_can_act(user: User, task: HumanTask) -> None:
    """:raises Forbidden: the task belongs to another lane, unit or group."""
    if not can_act(user, task):
        raise Forbidden(f"user {user.username!r} may not act on task {task.id} ({task.title})")


def can_view(user: User, task: HumanTask) -> bool:
    """The task's handler or someone who sees all clues; a group sees its clues, not the units' tasks on them."""
    return user.role in SEES_EVERYTHING or can_act(user, task)


def require_can_view(user: User, task: HumanTask) -> None:
    """:raises Forbidden: neither the task's handler nor someone who sees all clues."""
    if not can_view(user, task):
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
