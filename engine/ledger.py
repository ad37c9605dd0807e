"""The work ledger (工作台账): every clue a user may see, filtered, sorted and paged in the
database, and exported to .xlsx with exactly the same filter."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select

from . import access, audit, lights, spreadsheet, vocabulary
from .clock import as_utc, local_day_start
from .clues import OPEN_STAGES, clue_record
from .context import Context
from .db.models import Clue, OrgUnit, User, WorkGroup
from .errors import ValidationFailed

SORTABLE = {"id": Clue.id, "deadline": Clue.deadline, "created_at": Clue.created_at,
            "amount_owed": Clue.amount_owed, "stage": Clue.stage, "enterprise_name": Clue.enterprise_name,
            "light": Clue.light}
FILTERS = ("category", "stage", "unit", "group", "source", "light", "overdue", "q", "registered_from", "registered_to",
           "closed_from", "closed_to")
MAX_PER_PAGE = 200
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class LedgerQuery:
    category: str | None = None
    stage: str | None = None
    unit: str | None = None
    group: str | None = None
    source: str | None = None
    light: str | None = None
    overdue: bool | None = None
    q: str | None = None
    registered_from: date | None = None  # registered on or after this day (Asia/Shanghai)
    registered_to: date | None = None  # registered on or before this day
    closed_from: date | None = None  # closed (销号 or not accepted) on or after this day
    closed_to: date | None = None
    sort: str = "-id"
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> LedgerQuery:
        """Build from request parameters. :raises ValidationFailed: bad paging, sort or light."""
        values: dict[str, Any] = {k: (str(args[k]).strip() or None) for k in FILTERS if args.get(k) not in (None, "")}
        if "overdue" in values:
            values["overdue"] = str(values["overdue"]).lower() in ("1", "true", "yes", "on")
        errors = {}
        for name in ("registered_from", "registered_to", "closed_from", "closed_to"):
            if name in values:
                try:
                    values[name] = date.fromisoformat(str(values[name])[:10])
                except ValueError:
                    errors[name] = "应为日期（YYYY-MM-DD）"
        for name, default in (("page", 1), ("per_page", 50)):
            try:
                values[name] = int(args.get(name) or default)
            except (TypeError, ValueError):
                errors[name] = "应为整数"
        if not errors and (values["page"] < 1 or not 1 <= values["per_page"] <= MAX_PER_PAGE):
            errors["per_page" if values["page"] >= 1 else "page"] = f"page ≥ 1，per_page 为 1–{MAX_PER_PAGE}"
        sort = str(args.get("sort") or "-id")
        if sort.lstrip("-") not in SORTABLE:
            errors["sort"] = "不支持的排序字段"
        values["sort"] = sort
        if values.get("light") not in (None, *lights.LIGHTS):
            errors["light"] = "应为 red、yellow 或 green"
        if errors:
            raise ValidationFailed("查询参数有误", errors)
        return cls(**values)

    def filters(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in FILTERS if getattr(self, k) is not None}


def _where(user: User, query: LedgerQuery, now: datetime) -> list[ColumnElement[bool]]:
    where = [access.clue_scope(user)]
    for column, value in ((Clue.category, query.category), (Clue.stage, query.stage), (Clue.source, query.source)):
        if value is not None:
            where.append(column == value)
    if query.unit is not None:
        where.append(Clue.responsible_unit.in_(vocabulary.matching_codes(OrgUnit, query.unit)))
    if query.group is not None:
        group = Clue.work_group.in_(vocabulary.matching_codes(WorkGroup, query.group))
        if query.group == vocabulary.OFFICE_GROUP or query.group in vocabulary.OFFICE_NAME:
            group = group | (Clue.work_group == vocabulary.OFFICE_GROUP)
        where.append(group)
    if query.light is not None:
        # The stored light (indexed), with rows the sweep has not yet reached taken as moved on.
        where.append(lights.light_is(query.light, Clue.light, Clue.light_changes_at, lights.clue_overdue(now), now))
    if query.overdue is not None:
        overdue = Clue.stage.in_(OPEN_STAGES) & lights.clue_overdue(now)
        where.append(overdue if query.overdue else ~overdue)
    if query.registered_from is not None:
        where.append(Clue.created_at >= as_utc(local_day_start(query.registered_from)))
    if query.registered_to is not None:
        where.append(Clue.created_at < as_utc(local_day_start(query.registered_to + timedelta(days=1))))
    if query.closed_from is not None:
        where.append(Clue.closed_at >= as_utc(local_day_start(query.closed_from)))
    if query.closed_to is not None:
        where.append(Clue.closed_at < as_utc(local_day_start(query.closed_to + timedelta(days=1))))
    if query.q:
        pattern = f"%{query.q}%"
        where.append(or_(Clue.enterprise_name.like(pattern), Clue.uscc == query.q.upper(), Clue.debtor.like(pattern)))
    return where


def _order(query: LedgerQuery) -> list[ColumnElement[Any]]:
    column: ColumnElement[Any] = SORTABLE[query.sort.lstrip("-")]
    if column is Clue.light:
        # By severity of the stored light: red, yellow, green, then closed clues (descending: reversed).
        column = case({lights.RED: 0, lights.YELLOW: 1, lights.GREEN: 2}, value=Clue.light, else_=3)
    order = column.desc() if query.sort.startswith("-") else column.asc()
    return [order] if column is Clue.id else [order, Clue.id.desc()]


def _selection(user: User, query: LedgerQuery, now: datetime) -> Select[Any]:
    return select(Clue).where(*_where(user, query, now)).order_by(*_order(query))


def _row(clue: Clue, private: bool, now: datetime) -> dict[str, Any]:
    record = clue_record(clue, include_private=private)
    record.pop("light_changes_at", None)
    due = lights.deadline_moment(clue.deadline) if clue.deadline else None
    record["light"] = lights.current(clue.light, clue.light_changes_at, due, now)
    return record


def list_clues(ctx: Context, username: str, query: LedgerQuery) -> dict[str, Any]:
    """One page of the ledger and the total that matches."""
    user = access.get_user(ctx.session, username)
    where = _where(user, query, ctx.now)
    total = ctx.session.scalar(select(func.count()).select_from(Clue).where(*where)) or 0
    # Page through ids only, then fetch the page's rows: a deep OFFSET then skips narrow
    # index entries instead of whole clue rows.
    ids = list(ctx.session.scalars(select(Clue.id).where(*where).order_by(*_order(query))
                                   .offset((query.page - 1) * query.per_page).limit(query.per_page)))
    rows = {clue.id: clue for clue in ctx.session.scalars(select(Clue).where(Clue.id.in_(ids)))} if ids else {}
    private = access.sees_complainant(user)
    return {"items": [_row(rows[i], private, ctx.now) for i in ids], "total": total,
            "page": query.page, "per_page": query.per_page}


EXPORT_COLUMNS = [
    ("clue_id", "线索编号"), ("source", "线索来源"), ("enterprise_name", "企业名称"), ("uscc", "统一社会信用代码"),
    ("debtor", "被反映单位"), ("summary", "问题概述"), ("category", "问题类别"), ("level", "层级"),
    ("key_problem", "重点问题"), ("work_group", "牵头专班"), ("responsible_unit", "责任单位"),
    ("deadline", "整改期限"), ("stage", "办理阶段"), ("light", "亮灯"), ("amount_owed", "欠款金额（元）"),
    ("amount_paid", "已支付金额（元）"), ("sendback_count", "退回次数"), ("referred", "已移送纪检"),
    ("created_at", "登记时间"), ("closed_at", "办结时间"),
]
# The ledger's code columns, as the vocabulary spells them (stats and documents read this too).
LABELS = {k: vocabulary.LABELS[k] for k in ("stage", "light", "category", "source", "level")}


# Columns the sheet writes as typed cells rather than text.
_MOMENTS, _DAYS = {"created_at", "closed_at"}, {"deadline"}
_MONEY = {"amount_owed", "amount_paid"}
_WIDTHS = {"clue_id": 9, "enterprise_name": 28, "uscc": 22, "debtor": 24, "summary": 40, "work_group": 24,
           "responsible_unit": 22, "source": 16, "category": 20, "created_at": 17, "closed_at": 17}


def export_clues(ctx: Context, username: str, query: LedgerQuery) -> tuple[bytes, int]:
    """Every row of the filtered ledger (not just the page) as .xlsx with Chinese headers: names
    for codes, times in Beijing time as date cells, amounts as numbers in 元."""
    user = access.get_user(ctx.session, username)
    names = vocabulary.org_names(ctx.session)
    book = spreadsheet.new_book()
    sheet = spreadsheet.Sheet(book, "工作台账", [title for _, title in EXPORT_COLUMNS],
                              [_WIDTHS.get(key, spreadsheet.width_of(title)) for key, title in EXPORT_COLUMNS],
                              money_columns=[i for i, (key, _) in enumerate(EXPORT_COLUMNS) if key in _MONEY])
    count = 0
    result = ctx.session.scalars(_selection(user, query, ctx.now).limit(EXPORT_LIMIT).execution_options(yield_per=1000))
    for clue in result:
        record = _row(clue, False, ctx.now)
        sheet.append([_cell(key, getattr(clue, key) if key in _MOMENTS | _DAYS else record.get(key), names)
                      for key, _ in EXPORT_COLUMNS])
        count += 1
    audit.record_download(ctx, user.username, "ledger.xlsx", filters=query, rows=count)
    return spreadsheet.save(book), count


def _cell(key: str, value: Any, names: dict[str, str]) -> Any:
    if value is None:
        return None
    if key in LABELS:
        return LABELS[key].get(value, value)
    if key in ("responsible_unit", "work_group"):
        return names.get(value, value)
    if isinstance(value, bool):
        return vocabulary.yes_no(value)
    return value  # a Decimal amount is written exactly (openpyxl takes Decimal as a number)
