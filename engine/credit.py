"""Government credit records (政务信用记录): each confirmed broken promise of a defaulting body.

A promise counts as confirmed broken when a spot-check finds the rectification was not real
(paper, superficial or fake) or when the clue is referred to the discipline inspectors. The
record is written by the clue projection in the same transaction as the step that confirms
it (`record_confirmations`), one per confirming step: a fake rectification that is also
referred is one record (basis `referred`, with the spot-check result), a later failure of the
same clue is another. `backfill` derives the same records for steps taken before this module
existed, from the history and the workflow's task tree.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, or_, select
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import access, audit, spreadsheet, vocabulary
from .clock import as_utc, local_day_start
from .context import Context
from .db.models import Clue, InstanceEvent, OrgUnit, ProcessInstance, Role, WorkGroup
from .db.report_models import CreditRecord
from .errors import ValidationFailed
from .taskinfo import properties

if TYPE_CHECKING:
    from .instances import Step

log = logging.getLogger(__name__)
FAILING_RESULTS = ("paper", "superficial", "fake")  # spot_check form: anything but "genuine"
SPOT_CHECK_FAILED, REFERRED = "spot_check_failed", "referred"
BASES = (SPOT_CHECK_FAILED, REFERRED)
VIEWING_ROLES = (Role.office, Role.supervisor, Role.discipline, Role.admin)
BASIS_LABELS = {SPOT_CHECK_FAILED: "实地抽查认定整改不实", REFERRED: "移送纪检监察机关"}
RESULT_LABELS = vocabulary.RESULT
MAX_PER_PAGE = 200
EXPORT_LIMIT = 100_000


# --- creation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Confirmation:
    source_task_id: str
    basis: str
    spot_check_result: str | None
    finding: str | None


def _is_user_task(task: Task) -> bool:
    return type(task.task_spec).__name__ == "UserTask"


def _is_referral(task: Task) -> bool:
    return properties(task).get("flag") == "referred"


def confirmation_of(step: Step, ready: list[Task]) -> Confirmation | None:
    """What this step confirmed: a failed spot-check verdict submitted, a referral task made ready, or both."""
    done = {t.id for t in step.completed}
    referrals = [t for t in ready if _is_referral(t) and t.parent is not None and t.parent.id in done]
    result = step.user_data.get("result")
    failed = result in FAILING_RESULTS
    if not referrals and not failed:
        return None
    person = next((t for t in step.completed if _is_user_task(t)), None)
    source = str(person.id) if person is not None else str(referrals[0].id)
    # The spot-check form's findings, or the note of whoever decided to refer.
    finding = step.user_data.get("findings") or step.user_data.get("note")
    return Confirmation(source, REFERRED if referrals else SPOT_CHECK_FAILED,
                        str(result) if result is not None else None, str(finding) if finding else None)


def record_confirmations(ctx: Context, clue: Clue, step: Step, ready: list[Task]) -> CreditRecord | None:
    """Called by the clue projection after each step: writes the credit record the step confirms, if any."""
    found = confirmation_of(step, ready)
    if found is None:
        return None
    event = _pending_event(ctx, clue.instance_id, found.source_task_id)
    return _add(ctx, clue, found, ctx.now, event.actor if event else "system", event.seq if event else None)


def _pending_event(ctx: Context, instance_id: int | None, task_id: str) -> InstanceEvent | None:
    # The step's own task_completed event is added to the session just before the step runs
    # and is not flushed yet; it names who confirmed and where in the chain.
    for obj in ctx.session.new:
        if isinstance(obj, InstanceEvent) and obj.instance_id == instance_id and obj.task_id == task_id \
                and obj.kind == "task_completed":
            return obj
    return None


def _add(ctx: Context, clue: Clue, found: Confirmation, at: datetime, actor: str,
         event_seq: int | None) -> CreditRecord | None:
    exists = ctx.session.scalar(select(CreditRecord.id).where(
        CreditRecord.clue_id == clue.id, CreditRecord.source_task_id == found.source_task_id))
    if exists is not None:
        return None
    record = CreditRecord(
        clue_id=clue.id, instance_id=clue.instance_id, campaign_id=clue.campaign_id, subject_name=clue.debtor,
        enterprise_name=clue.enterprise_name, uscc=clue.uscc, category=clue.category,
        responsible_unit=clue.responsible_unit, work_group=clue.work_group, basis=found.basis,
        spot_check_result=found.spot_check_result, finding=found.finding, amount_owed=clue.amount_owed,
        amount_paid=clue.amount_paid, confirmed_at=at, confirmed_by=actor, source_task_id=found.source_task_id,
        event_seq=event_seq, created_at=ctx.now,
    )
    ctx.session.add(record)
    return record


def backfill(ctx: Context) -> int:
    """One-off: the credit records of steps taken before records were kept; returns how many were added."""
    from .instances import rebuild_workflow  # instances imports the projections, which import this module

    candidates = list(ctx.session.scalars(select(Clue).where(
        Clue.instance_id.is_not(None),
        or_(Clue.referred.is_(True), Clue.spot_check_result.in_(FAILING_RESULTS))).order_by(Clue.id)))
    added = 0
    for clue in candidates:
        instance = ctx.session.get(ProcessInstance, clue.instance_id)
        if instance is None:
            continue
        events = {e.task_id: e for e in ctx.session.scalars(select(InstanceEvent).where(
            InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "task_completed"))}
        found: dict[str, Confirmation] = {}
        for task_id, event in events.items():
            data = event.data or {}
            if data.get("result") in FAILING_RESULTS:
                found[task_id] = Confirmation(task_id, SPOT_CHECK_FAILED, data["result"], data.get("findings"))
        try:
            tasks = rebuild_workflow(ctx, instance).get_tasks()
        except Exception:  # noqa: BLE001 - an unreadable blob loses only its referral records
            log.warning("instance %s: workflow not rebuilt; referrals not backfilled", instance.id, exc_info=True)
            tasks = []
        for task in tasks:
            if not _is_referral(task) or task.state not in (TaskState.READY, TaskState.COMPLETED):
                continue
            person = task.parent
            while person is not None and not _is_user_task(person):
                person = person.parent
            key = str(person.id) if person is not None else str(task.id)
            data = (events[key].data or {}) if key in events else {}
            found[key] = Confirmation(key, REFERRED, data.get("result"), data.get("findings") or data.get("note"))
        for key, confirmation in found.items():
            event = events.get(key)
            at, actor = (event.at, event.actor) if event else (clue.updated_at, "system")
            if _add(ctx, clue, confirmation, at, actor, event.seq if event else None) is not None:
                added += 1
        ctx.session.flush()
    return added


# --- reading --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreditQuery:
    q: str | None = None          # the body's name (part of it)
    basis: str | None = None
    category: str | None = None
    unit: str | None = None
    clue_id: int | None = None
    since: date | None = None     # confirmed on or after (Asia/Shanghai day)
    until: date | None = None     # confirmed on or before
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> CreditQuery:
        """Build from request parameters. :raises ValidationFailed: bad paging, basis or dates."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in ("q", "basis", "category", "unit"):
            text = str(args.get(name) or "").strip()
            if text:
                values[name] = text[:200]
        if values.get("basis") not in (None, *BASES):
            errors["basis"] = "应为 spot_check_failed 或 referred"
        for name in ("since", "until"):
            text = str(args.get(name) or "").strip()
            if text:
                try:
                    values[name] = date.fromisoformat(text)
                except ValueError:
                    errors[name] = "应为日期（YYYY-MM-DD）"
        for name, default in (("clue_id", None), ("page", 1), ("per_page", 50)):
            text = str(args.get(name) or "").strip()
            try:
                values[name] = int(text) if text else default
            except ValueError:
                errors[name] = "应为整数"
        if not errors and (values["page"] < 1 or not 1 <= values["per_page"] <= MAX_PER_PAGE):
            errors["per_page" if values["page"] >= 1 else "page"] = f"page ≥ 1，per_page 为 1–{MAX_PER_PAGE}"
        if errors:
            raise ValidationFailed("查询参数有误", errors)
        return cls(**values)

    def filters(self) -> dict[str, Any]:
        names = ("q", "basis", "category", "unit", "clue_id", "since", "until")
        return {k: (v.isoformat() if isinstance(v, date) else v) for k in names if (v := getattr(self, k)) is not None}


def _where(query: CreditQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.q:
        where.append(CreditRecord.subject_name.like(f"%{query.q}%"))
    for column, value in ((CreditRecord.basis, query.basis), (CreditRecord.category, query.category),
                          (CreditRecord.responsible_unit, query.unit), (CreditRecord.clue_id, query.clue_id)):
        if value is not None:
            where.append(column == value)
    if query.since is not None:
        where.append(CreditRecord.confirmed_at >= as_utc(local_day_start(query.since)))
    if query.until is not None:
        where.append(CreditRecord.confirmed_at < as_utc(local_day_start(query.until + timedelta(days=1))))
    return where


def record_summary(record: CreditRecord, names: dict[str, str] | None = None) -> dict[str, Any]:
    names = names or {}
    return {
        "id": record.id, "clue_id": record.clue_id, "campaign_id": record.campaign_id,
        "subject_name": record.subject_name, "enterprise_name": record.enterprise_name, "uscc": record.uscc,
        "category": record.category, "responsible_unit": record.responsible_unit,
        "responsible_unit_name": names.get(record.responsible_unit or "", record.responsible_unit),
        "work_group": record.work_group, "basis": record.basis, "basis_label": BASIS_LABELS.get(record.basis),
        "spot_check_result": record.spot_check_result,
        "spot_check_result_label": RESULT_LABELS.get(record.spot_check_result or ""),
        "finding": record.finding,
        "amount_owed": record.amount_owed, "amount_paid": record.amount_paid,
        "confirmed_at": record.confirmed_at.isoformat(), "confirmed_by": record.confirmed_by,
        "source_task_id": record.source_task_id, "event_seq": record.event_seq,
    }


def _names(ctx: Context) -> dict[str, str]:
    names = {u.code: u.name for u in ctx.session.scalars(select(OrgUnit))}
    names.update({g.code: g.name for g in ctx.session.scalars(select(WorkGroup))}, office="综合办公室")
    return names


def _viewer(ctx: Context, username: str) -> None:
    access.require_role(access.get_user(ctx.session, username), *VIEWING_ROLES)


def list_records(ctx: Context, username: str, query: CreditQuery) -> dict[str, Any]:
    """One page of credit records, newest first, and the total that matches.

    :raises Forbidden: not the office, a supervisor, a discipline inspector or an administrator.
    """
    _viewer(ctx, username)
    where = _where(query)
    total = ctx.session.scalar(select(func.count()).select_from(CreditRecord).where(*where)) or 0
    rows = ctx.session.scalars(select(CreditRecord).where(*where)
                               .order_by(CreditRecord.confirmed_at.desc(), CreditRecord.id.desc())
                               .offset((query.page - 1) * query.per_page).limit(query.per_page))
    names = _names(ctx)
    return {"items": [record_summary(r, names) for r in rows], "total": total, "page": query.page,
            "per_page": query.per_page}


def records_of_clue(ctx: Context, clue_id: int) -> list[dict[str, Any]]:
    rows = ctx.session.scalars(select(CreditRecord).where(CreditRecord.clue_id == clue_id).order_by(CreditRecord.id))
    return [record_summary(r) for r in rows]


EXPORT_COLUMNS = [
    ("id", "记录编号"), ("subject_name", "失信主体（被反映单位）"), ("basis_label", "认定依据"),
    ("spot_check_result_label", "抽查结论"), ("finding", "抽查发现"), ("clue_id", "线索编号"),
    ("enterprise_name", "涉及企业"), ("uscc", "企业统一社会信用代码"), ("category", "问题类别"),
    ("responsible_unit_name", "责任单位"), ("amount_owed", "欠款金额（元）"), ("amount_paid", "已支付金额（元）"),
    ("confirmed_at", "认定时间"), ("confirmed_by", "认定人"), ("event_seq", "历史记录序号"),
]
CATEGORY_LABELS = vocabulary.CATEGORY


def export_records(ctx: Context, username: str, query: CreditQuery) -> tuple[bytes, int]:
    """Every record matching the filter (not just the page) as .xlsx with Chinese headers.

    :raises Forbidden: as list_records.
    """
    _viewer(ctx, username)
    names = _names(ctx)
    book = spreadsheet.new_book()
    sheet = spreadsheet.Sheet(book, "政务信用记录", [title for _, title in EXPORT_COLUMNS],
                              money_columns=[i for i, (key, _) in enumerate(EXPORT_COLUMNS) if key.startswith("amount_")])
    count = 0
    rows = ctx.session.scalars(select(CreditRecord).where(*_where(query))
                               .order_by(CreditRecord.confirmed_at.desc(), CreditRecord.id.desc())
                               .limit(EXPORT_LIMIT).execution_options(yield_per=1000))
    for record in rows:
        summary = record_summary(record, names)
        summary["category"] = CATEGORY_LABELS.get(record.category or "", record.category)
        summary["confirmed_at"] = record.confirmed_at
        sheet.append([summary.get(key) for key, _ in EXPORT_COLUMNS])
        count += 1
    audit.record_download(ctx, username, "credit-records.xlsx", filters=query, rows=count)
    return spreadsheet.save(book), count
