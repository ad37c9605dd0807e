"""调度通报: the office's dispatch notice for a period, as a Word document.

The office (and the supervisor, read-only) picks a period of registration days; the notice
reports the clues registered in it: totals (engine.stats.overview), by category and stage
(stats.figures), the weekly trend (stats.weekly_trend), the ranking of units and of work groups
(engine.ranking), what is owed and paid per unit, the overdue clues (the ledger's overdue rule,
oldest deadline first) and the clues listed for supervision (挂牌督办). Stages, lights and
overdue are as at the moment of generation. Every figure is an aggregate query; the two lists
are capped at LIST_LIMIT rows with a note of how many more there are, so a year of data
(100,000 clues) still gives a document in about a second.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from . import access, audit, charts, lights, money, ranking, stats
from .campaigns import current_campaign
from .clock import SHANGHAI, as_utc, local_day_start
from .context import Context
from .db.models import Clue, Role, User
from .documents import OfficialDocument, chinese_date, percent, wan
from .errors import NotFound, ValidationFailed
from .ledger import LABELS, LedgerQuery, list_clues

ROLES = (Role.office, Role.supervisor)
TITLE = "诚信政府建设专项行动调度通报"
DEFAULT_ISSUER = "诚信政府建设专项行动综合办公室"
LIST_LIMIT = 100
MAX_DAYS = 731
MAX_NUMBER = 999
MAX_ISSUER = 60


# --- the request ----------------------------------------------------------------------------------

def _date(args: dict[str, Any], name: str, errors: dict[str, str]) -> date | None:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "应为日期（YYYY-MM-DD）"
        return None


def _defaults(ctx: Context) -> tuple[date, date]:
    """The current campaign's first day (or a week ago without a campaign) up to today."""
    today = ctx.now.astimezone(SHANGHAI).date()
    try:
        first = current_campaign(ctx.session).starts_on
    except NotFound:
        first = today - timedelta(days=6)
    return min(first, today), today


def period_of(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """start, end, number and issuer from request arguments, defaults filled in.

    :raises ValidationFailed: a bad date, end before start, a period over two years, a bad
        issue number, an issuer name too long.
    """
    errors: dict[str, str] = {}
    start, end = _date(args, "start", errors), _date(args, "end", errors)
    default_start, default_end = _defaults(ctx)
    if "start" not in errors and start is None:
        start = default_start if end is None or default_start <= end else end
    if "end" not in errors and end is None:
        end = max(default_end, start) if start is not None else default_end
    if start is not None and end is not None:
        if end < start:
            errors["end"] = "结束日期早于开始日期"
        elif (end - start).days >= MAX_DAYS:
            errors["end"] = "统计期间不超过两年"
    number: int | None = None
    raw_number = str(args.get("number") or "").strip()
    if raw_number:
        try:
            number = int(raw_number)
        except ValueError:
            number = None
        if number is None or not 1 <= number <= MAX_NUMBER:
            errors["number"] = f"期数应为 1 至 {MAX_NUMBER} 的整数"
    issuer = " ".join(str(args.get("issuer") or "").split()) or DEFAULT_ISSUER
    if len(issuer) > MAX_ISSUER:
        errors["issuer"] = f"发文机关名称不超过 {MAX_ISSUER} 个字"
    if errors:
        raise ValidationFailed("invalid dispatch notice request", errors)
    assert start is not None and end is not None
    return {"start": start, "end": end, "number": number or issue_number(ctx, end), "issuer": issuer}


def issue_number(ctx: Context, end: date) -> int:
    """第N期 by default: the week of the campaign the period ends in (1 in the first week)."""
    try:
        first = current_campaign(ctx.session).starts_on
    except NotFound:
        return 1
    return max(1, (end - first).days // 7 + 1)


def _require(ctx: Context, username: str) -> User:
    user = access.get_user(ctx.session, username)
    access.require_role(user, *ROLES)
    return user


def notice_form(ctx: Context, username: str, args: dict[str, Any]) -> dict[str, Any]:
    """The values the form shows (defaults filled in) and, for bad input, the field errors.

    :raises Forbidden: neither the office nor the supervisor.
    """
    _require(ctx, username)
    try:
        values = period_of(ctx, args)
    except ValidationFailed as exc:
        shown = {k: str(args.get(k) or "") for k in ("start", "end", "number", "issuer")}
        return {"values": shown, "errors": exc.fields}
    return {"values": {**values, "start": values["start"].isoformat(), "end": values["end"].isoformat()},
            "errors": {}}


# --- the figures ------------------------------------------------------------------------------------

def trend_between(ctx: Context, username: str, filters: dict[str, Any], start: date, end: date
                  ) -> list[dict[str, Any]]:
    """Weeks (Monday first) from the one `start` falls in to the one `end` falls in."""
    today = ctx.now.astimezone(SHANGHAI).date()
    first = start - timedelta(days=start.weekday())
    this_week = today - timedelta(days=today.weekday())
    weeks = min(104, max(1, (this_week - first).days // 7 + 1))
    rows = stats.weekly_trend(ctx, username, filters, weeks=weeks)
    return [r for r in rows if first.isoformat() <= r["week_start"] <= end.isoformat()]


def _listed(ctx: Context, user: User, start: date, end: date) -> dict[str, Any]:
    """Clues listed for supervision (挂牌督办) registered in the period: open ones first."""
    where = [access.clue_scope(user), Clue.listed_for_supervision.is_(True),  # type: ignore[attr-defined]
             Clue.created_at >= as_utc(local_day_start(start)),
             Clue.created_at < as_utc(local_day_start(end + timedelta(days=1)))]
    total = ctx.session.scalar(select(func.count()).select_from(Clue).where(*where)) or 0
    closed_last = Clue.stage.in_(("closed", "rejected"))
    rows = ctx.session.scalars(select(Clue).where(*where).order_by(closed_last, Clue.deadline, Clue.id)
                               .limit(LIST_LIMIT))
    items = []
    for clue in rows:
        due = lights.deadline_moment(clue.deadline) if clue.deadline else None
        items.append({"clue_id": clue.id, "enterprise_name": clue.enterprise_name, "debtor": clue.debtor,
                      "responsible_unit": clue.responsible_unit, "stage": clue.stage,
                      "deadline": clue.deadline.isoformat() if clue.deadline else None,
                      "light": lights.current(clue.light, clue.light_changes_at, due, ctx.now)})
    return {"items": items, "total": int(total)}


def notice_data(ctx: Context, username: str, start: date, end: date, number: int = 1,
                issuer: str = DEFAULT_ISSUER) -> dict[str, Any]:
    """Every figure and list of the notice for clues registered from `start` to `end`.

    :raises Forbidden: neither the office nor the supervisor.
    """
    user = _require(ctx, username)
    filters = {"registered_from": start, "registered_to": end}
    overdue = list_clues(ctx, username, LedgerQuery(overdue=True, registered_from=start, registered_to=end,
                                                     sort="deadline", per_page=LIST_LIMIT))
    unit_ranking = ranking.ranking(ctx, username, "unit", start, end)
    return {
        "start": start, "end": end, "number": number, "issuer": issuer,
        "generated_at": ctx.now.astimezone(SHANGHAI),
        "overview": stats.overview(ctx, username, filters),
        "by_category": stats.figures(ctx, username, "category", filters),
        "by_stage": stats.figures(ctx, username, "stage", filters),
        "by_unit": stats.figures(ctx, username, "unit", filters),
        "closed_by_unit": {r["code"]: r["closed"] for r in unit_ranking},  # the ranking counted them already
        "trend": trend_between(ctx, username, filters, start, end),
        "unit_ranking": unit_ranking,
        "group_ranking": ranking.ranking(ctx, username, "group", start, end),
        "overdue": {"items": overdue["items"], "total": overdue["total"]},
        "listed": _listed(ctx, user, start, end),
        "unit_names": stats.names(ctx.session, "unit"),
        "group_names": stats.names(ctx.session, "group"),
    }


def dispatch_notice(ctx: Context, username: str, args: dict[str, Any]) -> tuple[bytes, str]:
    """The notice for the period in `args` (start, end, number, issuer) as .docx, and its file name.

    :raises Forbidden: neither the office nor the supervisor. :raises ValidationFailed: see period_of.
    """
    _require(ctx, username)
    period = period_of(ctx, args)
    data = notice_data(ctx, username, **period)
    audit.record_download(ctx, username, "dispatch-notice.docx", filters={**args, **period})
    return render_notice(data), f"调度通报第{data['number']}期（{data['start']:%Y%m%d}-{data['end']:%Y%m%d}）.docx"


# --- the document -----------------------------------------------------------------------------------

RANKING_HEADERS = ("名次", "名称", "线索数", "已销号", "按期办结率", "逾期", "平均办结天数", "退回次数", "抽查未通过")
RANKING_WIDTHS = (1.1, 4.0, 1.3, 1.3, 1.8, 1.1, 1.9, 1.5, 1.6)


def ranking_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["rank"], r["name"], r["clues"], r["closed"], percent(r["on_time_rate"]), r["overdue"],
             "—" if r["avg_days_to_close"] is None else f"{r['avg_days_to_close']:.1f}", r["sendbacks"],
             r["spot_check_failures"]] for r in rows]


def ranking_table(doc: OfficialDocument, rows: list[dict[str, Any]]) -> None:
    doc.table(RANKING_HEADERS, ranking_rows(rows), widths_cm=RANKING_WIDTHS, numeric=(2, 3, 4, 5, 6, 7, 8))


def figure_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Label, count, owed and paid (万元), with a totals row."""
    body = [[r["label"], r["count"], wan(r["owed"]), wan(r["paid"])] for r in rows]
    body.append(["合计", sum(r["count"] for r in rows), wan(sum(r["owed"] for r in rows)),
                 wan(sum(r["paid"] for r in rows))])
    return body


def units_chart(by_unit: list[dict[str, Any]], closed_by_unit: dict[str, int], units: dict[str, str]) -> bytes:
    """Bars per responsible unit: clues and closed (销号); clues not yet assigned are left out."""
    rows = [r for r in by_unit if r["key"] is not None]
    return charts.bar_chart("各责任单位线索数与销号数", [units.get(r["key"], r["label"]) for r in rows],
                            [("线索数", [r["count"] for r in rows]),
                             ("已销号", [closed_by_unit.get(r["key"], 0) for r in rows])], unit="条", horizontal=True)


def owed_and_paid(doc: OfficialDocument, by_unit: list[dict[str, Any]], units: dict[str, str], when: str) -> None:
    """The units owing most, and a chart of owed against paid per unit (万元)."""
    owing = sorted((r for r in by_unit if r["key"] is not None and r["owed"]),
                   key=lambda r: r["owed"] - r["paid"], reverse=True)
    if not owing:
        doc.paragraph(f"{when}登记的线索中暂无涉及拖欠账款金额的线索。")
        return
    # Only what is still unpaid to the fen: a unit that has paid everything is not "owing most".
    unpaid = [r for r in owing if r["owed"] - r["paid"] > 0]
    if unpaid:
        top = "、".join(f"{units.get(r['key'], r['label'])}（未付{wan(r['owed'] - r['paid'])}万元）" for r in unpaid[:3])
        doc.paragraph(f"{when}涉及拖欠账款的线索中，尚未支付金额较大的单位是：{top}。")
    else:
        doc.paragraph(f"{when}涉及拖欠账款的线索中，所涉款项均已支付。")
    # Bars need no fen: the chart takes floats, the sentences above print exact 万元.
    doc.picture(charts.bar_chart("各责任单位涉及金额与已支付金额", [units.get(r["key"], r["label"]) for r in owing],
                                 [("涉及金额", [float(money.wan(r["owed"])) for r in owing]),
                                  ("已支付", [float(money.wan(r["paid"])) for r in owing])], unit="万元", horizontal=True))


def light_label(value: str | None) -> str:
    return LABELS["light"].get(value or "", "—")


def stage_label(value: str | None) -> str:
    return LABELS["stage"].get(value or "", value or "")


def _overdue_days(deadline: str | None, today: date) -> str:
    return str((today - date.fromisoformat(deadline)).days) if deadline else ""


def render_notice(data: dict[str, Any]) -> bytes:
    """The .docx of `notice_data`'s result."""
    start, end, moment = data["start"], data["end"], data["generated_at"]
    today = moment.date()
    units = data["unit_names"]
    o = data["overview"]
    doc = OfficialDocument(f"{TITLE}（第{data['number']}期）")
    doc.masthead(TITLE, f"（第{data['number']}期）", data["issuer"], today)
    doc.title(f"关于{chinese_date(start)}至{chinese_date(end)}问题线索办理情况的通报")
    doc.salutation("各责任单位、各工作专班：")
    doc.paragraph(f"现将{chinese_date(start)}至{chinese_date(end)}（以下简称本期）登记的问题线索办理情况通报如下。"
                  f"办理阶段、亮灯和逾期情况统计截至{moment_text(moment)}。")

    doc.heading(1, "总体情况")
    doc.paragraph(
        f"本期共登记问题线索{o['clues']}条，其中已销号{o['closed']}条、不予受理{o['rejected']}条、正在办理{o['open']}条，"
        f"办结率{percent(o['closure_rate'])}。涉及拖欠账款{wan(o['owed'])}万元，已支付{wan(o['paid'])}万元，"
        f"清偿率{percent(o.get('paid_rate'))}。逾期未办结{o['overdue']}条（红灯），"
        f"临近期限{o['overdue_by_light'].get('yellow', 0)}条（黄灯）；挂牌督办{o['listed_for_supervision']}条，"
        f"移送纪检监察机关{o.get('referred', 0)}条。")
    doc.subheading(1, "按问题类别")
    doc.table(("问题类别", "线索数", "涉及金额（万元）", "已支付（万元）"), figure_rows(data["by_category"]),
              widths_cm=(6.0, 2.4, 3.6, 3.6), numeric=(1, 2, 3), bold_last=True)
    doc.subheading(2, "按办理阶段")
    stages = data["by_stage"]
    doc.picture(charts.bar_chart("各办理阶段线索数", [r["label"] for r in stages],
                                 [("线索数", [r["count"] for r in stages])], unit="条"))
    doc.subheading(3, "每周登记与销号")
    trend = data["trend"]
    doc.picture(charts.line_chart("每周登记与销号线索数", [r["week_start"][5:] for r in trend],
                                  [("登记", [r["registered"] for r in trend]), ("销号", [r["closed"] for r in trend])],
                                  unit="条"))
    doc.note("注：横轴为每周的星期一（月-日）。")

    doc.heading(2, "各责任单位办理情况")
    doc.paragraph("以按期办结率从高到低排名；按期办结率相同的，逾期少的在前，再按平均办结天数少的在前。")
    ranking_table(doc, data["unit_ranking"])
    doc.picture(units_chart(data["by_unit"], data["closed_by_unit"], units))
    doc.note("注：按期办结率＝按期销号数÷已到期线索数（已销号或已逾期）；尚未交办的线索不计入单位排名。")

    doc.heading(3, "各工作专班办理情况")
    ranking_table(doc, data["group_ranking"])

    doc.heading(4, "拖欠账款清偿情况")
    owed_and_paid(doc, data["by_unit"], units, "本期")

    doc.heading(5, "逾期未办结问题")
    overdue = data["overdue"]
    if overdue["items"]:
        doc.paragraph(f"截至{moment_text(moment)}，本期登记的线索中逾期未办结{overdue['total']}条，按整改期限先后列出：")
        doc.table(("序号", "线索编号", "企业名称", "被反映单位", "责任单位", "整改期限", "逾期天数", "亮灯"),
                  [[i, f"#{c['clue_id']}", c["enterprise_name"], c["debtor"], _unit(units, c),
                    c["deadline"] or "", _overdue_days(c["deadline"], today), light_label(c["light"])]
                   for i, c in enumerate(overdue["items"], start=1)],
                  widths_cm=(0.9, 1.3, 3.3, 2.7, 2.7, 2.3, 1.3, 1.1), numeric=(6,))
        more_note(doc, overdue, "逾期未办结问题")
    else:
        doc.paragraph("本期登记的线索中暂无逾期未办结问题。")

    doc.heading(6, "挂牌督办问题")
    listed = data["listed"]
    if listed["items"]:
        doc.paragraph(f"本期登记的线索中挂牌督办{listed['total']}条：")
        doc.table(("序号", "线索编号", "企业名称", "被反映单位", "责任单位", "办理阶段", "整改期限", "亮灯"),
                  [[i, f"#{c['clue_id']}", c["enterprise_name"], c["debtor"], _unit(units, c),
                    stage_label(c["stage"]), c["deadline"] or "", light_label(c["light"])]
                   for i, c in enumerate(listed["items"], start=1)],
                  widths_cm=(0.9, 1.3, 3.2, 2.6, 2.6, 1.5, 2.3, 1.2))
        more_note(doc, listed, "挂牌督办问题")
    else:
        doc.paragraph("本期登记的线索中暂无挂牌督办问题。")

    doc.heading(7, "下一步工作要求")
    doc.paragraph("（一）各责任单位对逾期未办结问题要逐项明确整改时限和责任人，加快整改进度，按时反馈销号。")
    doc.paragraph("（二）对挂牌督办问题，各牵头工作专班要跟踪督办，确保问题真改实改。")
    doc.paragraph("（三）综合办公室将持续跟踪调度，对整改不力、虚假整改的，按规定移送纪检监察机关。")
    doc.signature(data["issuer"], today)
    return doc.content()


def _unit(units: dict[str, str], clue: dict[str, Any]) -> str:
    code = clue["responsible_unit"]
    return units.get(code, code) if code else "（未交办）"


def more_note(doc: OfficialDocument, listing: dict[str, Any], what: str) -> None:
    more = listing["total"] - len(listing["items"])
    if more > 0:
        doc.note(f"注：另有{more}条{what}未列出，详见工作台账。")


def moment_text(moment: datetime) -> str:
    return f"{chinese_date(moment.date())}{moment.hour}时"
