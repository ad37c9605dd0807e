"""The one vocabulary: every code a person may read (stages, categories, sources, roles, lanes,
history event kinds, ...) with its Chinese label, and the org directory's names.

Pages, exports, documents and the designer read labels from here, so a code is spelled out the
same way everywhere and a new stage or event kind is named once.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from .context import Context
from .db.models import OrgUnit, User, WorkGroup

STAGE = {"triage": "分析研判", "assigning": "交办", "rectifying": "整改中", "reviewing": "审核销号",
         "awaiting_spot_check": "待抽查", "spot_check": "实地抽查", "closed": "已销号", "rejected": "不予受理"}
LIGHT = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}
CATEGORY = {"arrears_public": "机关事业单位拖欠账款", "arrears_soe": "国有企业拖欠账款", "policy": "惠企政策兑现",
            "investment": "招商引资政策兑现", "promise": "政府守信践诺"}
SOURCE = {"leadership": "领导交办", "letters_visits": "来信来访", "enterprise_platform": "非公有制企业服务平台投诉",
          "self_inspection": "自查问题清单"}
LEVEL = {"city": "市级", "county": "县级"}
# Accounts' roles (db.models.Role).
ROLE = {"office": "综合办公室", "group": "工作专班", "unit": "责任单位", "spotcheck": "抽查组", "discipline": "纪检监察",
        "designer": "流程设计", "supervisor": "督查", "admin": "系统管理", "system": "系统"}
# Diagram lanes: the role code a lane carries (engine/lanes.py) and the name a diagram shows.
LANE = {"office": "综合办公室", "work_group": "工作专班", "responsible_unit": "责任单位", "spot_check": "抽查组",
        "discipline": "纪检监察机关"}
# History event kinds (instance_event.kind).
EVENT = {
    "instance_started": "线索登记", "task_completed": "办理", "script_run": "自动处理", "decision_made": "规则分派",
    "service_called": "系统服务", "timer_fired": "定时触发", "end_reached": "流程结束", "task_cancelled": "任务撤销",
    "error": "流程出错", "evidence_attached": "上传证据", "supervision_notice": "督办单", "supervision_listing": "挂牌督办",
    "reminder": "到期提醒", "chase": "催办", "escalation": "逐级督办", "timer_rescheduled": "期限调整",
    "instance_migrated": "流程版本迁移", "instance_migration_undone": "撤销版本迁移", "referral_received": "移送材料签收",
    "instance_suspended": "挂起流程", "instance_resumed": "恢复流程", "instance_terminated": "终止流程",
    "instance_reopened": "重新办理", "instance_retried": "出错重试", "unit_reassigned": "改派责任单位",
    "carried_over": "结转至新一轮专项行动",
}
RESULT = {"genuine": "真改实改", "paper": "纸上整改", "superficial": "表面整改", "fake": "虚假整改"}
STATUS = {"running": "办理中", "waiting": "等待中", "completed": "已完成", "error": "出错", "suspended": "已挂起",
          "terminated": "已终止"}
# Reminder and escalation steps (ladder.py), by step name and by escalation level.
LADDER = {"reminder": "到期提醒", "chase": "催办", "unit_leader": "逾期督办（单位领导）",
          "group": "逾期督办（工作专班）", "office": "逾期督办（综合办公室）"}

LABELS: dict[str, dict[str, str]] = {
    "stage": STAGE, "light": LIGHT, "category": CATEGORY, "source": SOURCE, "level": LEVEL, "role": ROLE,
    "lane": LANE, "event": EVENT, "result": RESULT, "status": STATUS, "ladder": LADDER,
}
OFFICE_GROUP, OFFICE_NAME = "office", "综合办公室"


def label(kind: str, code: Any) -> str:
    """The Chinese label of a code of one kind; a code the vocabulary does not know as itself."""
    if code is None or code == "":
        return ""
    text = str(code)
    found = LABELS.get(kind, {}).get(text)
    if found is None and kind == "ladder":  # step names are "escalation_<level>"
        found = LADDER.get(text.removeprefix("escalation_"))
    return found if found is not None else text


def yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def org_names(session: Session) -> dict[str, str]:
    """Unit and work-group codes to their names in the org directory (a few dozen rows); the
    office, which is a group in routing but not a directory row, as 综合办公室."""
    names = {code: name for code, name in session.execute(select(WorkGroup.code, WorkGroup.name))}
    names.setdefault(OFFICE_GROUP, OFFICE_NAME)
    names.update({code: name for code, name in session.execute(select(OrgUnit.code, OrgUnit.name))})
    return names


def directory(ctx: Context) -> dict[str, Any]:
    """What pages need to name and offer units and groups: code -> name, and the units and
    groups as (code, name) lists for dropdowns and type-ahead."""
    units = [(code, name) for code, name in ctx.session.execute(select(OrgUnit.code, OrgUnit.name).order_by(OrgUnit.code))]
    groups = [(code, name) for code, name in ctx.session.execute(select(WorkGroup.code, WorkGroup.name)
                                                                 .order_by(WorkGroup.code))]
    groups.append((OFFICE_GROUP, OFFICE_NAME))
    return {"names": dict(groups + units), "units": units, "groups": groups}


def matching_codes(table: type[OrgUnit] | type[WorkGroup], text: str) -> Select[Any]:
    """The codes a unit or group filter means: the code itself, or every directory entry whose
    name contains what was typed (people type 曾都区, not zengdu)."""
    return select(table.code).where(or_(table.code == text, table.name.contains(text, autoescape=True)))


def name_actors(session: Session, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each history entry `actor_name`: the account's display name (系统 for the engine)."""
    usernames = {e["actor"] for e in events if e.get("actor") and e["actor"] != "system"}
    people = {username: name for username, name in session.execute(
        select(User.username, User.display_name).where(User.username.in_(usernames)))} if usernames else {}
    for event in events:
        actor = event.get("actor")
        event["actor_name"] = ROLE["system"] if actor == "system" else (people.get(actor) or actor)
    return events
