"""年终总结: a campaign's year-end summary, per responsible unit and for the whole city, as Word
documents built from the clue figures and from what the units reported themselves.

The units' own reports come from processes/unit_reporting.bpmn (one instance per unit and
campaign, business key "<campaign id>:<unit code>"): their submitted forms are the
`task_completed` events of its user tasks in the history (instance_event.data, the cleaned
form data) — Task_contacts (the task force), Task_self_inspection (the problem list) and
Task_summary (the written summary: summary, measures_taken, institutions_built). One query
over the history reads them for every unit; the newest submission of each task wins.

The figures are those of the clues registered during the campaign (its first to its last
day), from engine.stats and engine.ranking. Who may read: the office and the supervisor every
unit's summary and the city's; a unit its own summary only.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from . import access, audit, charts, lights, money, ranking, stats
from .campaigns import current_campaign
from .clock import SHANGHAI, as_utc, local_day_start
from .clues import OPEN_STAGES
from .context import Context
from .db.models import Campaign, Clue, InstanceEvent, OrgUnit, ProcessInstance, Role, User
from .dispatch_notice import (DEFAULT_ISSUER, LIST_LIMIT, figure_rows, light_label, more_note, moment_text,
                              owed_and_paid, ranking_table, stage_label, trend_between, units_chart)
from .documents import OfficialDocument, chinese_date, percent, wan
from .errors import Forbidden, NotFound
from .ledger import LABELS
from .reporting import REPORTING_PROCESS

ROLES = (Role.office, Role.supervisor, Role.unit)
CITY_ROLES = (Role.office, Role.supervisor)
REPORT_TASKS = {"Task_contacts": "contacts", "Task_self_inspection": "self_inspection", "Task_summary": "summary"}
SUMMARY_FIELDS = (("summary", "工作总结"), ("measures_taken", "主要措施"), ("institutions_built", "健全制度"))
EXCERPT_CHARS = 3000


# --- who, which campaign, which units -------------------------------------------------------------

def _user(ctx: Context, username: str, roles: tuple[Role, ...] = ROLES) -> User:
    user = access.get_user(ctx.session, username)
    access.require_role(user, *roles)
    return user


def _campaign(ctx: Context, campaign_id: int | None) -> Campaign:
    """:raises NotFound: no such campaign (or none opened yet)."""
    if campaign_id is None:
        return current_campaign(ctx.session)
    campaign = ctx.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return campaign


def _units(ctx: Context, user: User) -> list[OrgUnit]:
    """Every unit for the office and the supervisor; a unit user's own unit."""
    query = select(OrgUnit).order_by(OrgUnit.kind, OrgUnit.code)
    if user.role == Role.unit:
        query = query.where(OrgUnit.code == user.unit_code)
    return list(ctx.session.scalars(query))


def _period(campaign: Campaign) -> dict[str, date]:
    return {"registered_from": campaign.starts_on, "registered_to": campaign.ends_on}


def unit_reports(ctx: Context, campaign: Campaign, codes: list[str]) -> dict[str, dict[str, Any]]:
    """What each unit submitted in its reporting process: {code: {"contacts": {...}, "self_inspection":
    {...}, "summary": {...}}}, each the form data plus "at" (ISO) of the newest submission."""
    keys = {f"{campaign.id}:{code}": code for code in codes}
    found: dict[str, dict[str, Any]] = {code: {} for code in codes}
    if not keys:
        return found
    rows = ctx.session.execute(
        select(ProcessInstance.business_key, InstanceEvent.element_id, InstanceEvent.at, InstanceEvent.data)
        .join(ProcessInstance, ProcessInstance.id == InstanceEvent.instance_id)
        .where(ProcessInstance.process_id == REPORTING_PROCESS, ProcessInstance.business_key.in_(keys),
               InstanceEvent.kind == "task_completed", InstanceEvent.element_id.in_(REPORT_TASKS))
        .order_by(InstanceEvent.at, InstanceEvent.id))
    for key, element, at, data in rows:
        found[keys[key]][REPORT_TASKS[element]] = {**(data or {}), "at": as_utc(at).isoformat()}
    return found


def _local_day(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).date()


# --- the page ---------------------------------------------------------------------------------------

def year_end_index(ctx: Context, username: str, campaign_id: int | None = None) -> dict[str, Any]:
    """The units whose summaries the user may download, with their clue counts and whether and
    when each sent its written summary; and whether the user may download the city's.

    :raises Forbidden: not the office, the supervisor or a unit. :raises NotFound: no such campaign.
    """
    user = _user(ctx, username)
    campaign = _campaign(ctx, campaign_id)
    units = _units(ctx, user)
    period = _period(campaign)
    rows = {r["code"]: r for r in ranking.ranking(ctx, username, "unit", period["registered_from"],
                                                   period["registered_to"])}
    reports = unit_reports(ctx, campaign, [u.code for u in units])
    campaigns = ctx.session.execute(select(Campaign.id, Campaign.name)
                                    .order_by(Campaign.year.desc(), Campaign.id.desc()))
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "year": campaign.year,
                     "starts_on": campaign.starts_on.isoformat(), "ends_on": campaign.ends_on.isoformat()},
        "campaigns": [{"id": i, "name": n} for i, n in campaigns],
        "may_download_city": user.role in CITY_ROLES,
        "units": [{"code": u.code, "name": u.name, "clues": rows[u.code]["clues"] if u.code in rows else 0,
                   "closed": rows[u.code]["closed"] if u.code in rows else 0,
                   "summary_at": reports[u.code].get("summary", {}).get("at")} for u in units],
    }


# --- one unit ------------------------------------------------------------------------------------------

def _open_clues(ctx: Context, user: User, code: str, campaign: Campaign) -> dict[str, Any]:
    where = [access.clue_scope(user), Clue.responsible_unit == code, Clue.stage.in_(OPEN_STAGES),
             Clue.created_at >= as_utc(local_day_start(campaign.starts_on)),
             Clue.created_at < as_utc(local_day_start(campaign.ends_on + timedelta(days=1)))]
    total = ctx.session.scalar(select(func.count()).select_from(Clue).where(*where)) or 0
    items = []
    for clue in ctx.session.scalars(select(Clue).where(*where).order_by(Clue.deadline, Clue.id).limit(LIST_LIMIT)):
        due = lights.deadline_moment(clue.deadline) if clue.deadline else None
        items.append({"clue_id": clue.id, "enterprise_name": clue.enterprise_name, "category": clue.category,
                      "stage": clue.stage, "deadline": clue.deadline.isoformat() if clue.deadline else None,
                      "light": lights.current(clue.light, clue.light_changes_at, due, ctx.now)})
    return {"items": items, "total": int(total)}


def unit_summary_data(ctx: Context, username: str, code: str, campaign_id: int | None = None) -> dict[str, Any]:
    """Everything in one unit's summary.

    :raises NotFound: no such unit or campaign. :raises Forbidden: another unit's summary.
    """
    user = _user(ctx, username)
    unit = ctx.session.get(OrgUnit, code)
    if unit is None:
        raise NotFound(f"unit {code!r} does not exist")
    if user.role == Role.unit and user.unit_code != code:
        raise Forbidden(f"user {username!r} may read only the summary of unit {user.unit_code!r}")
    campaign = _campaign(ctx, campaign_id)
    filters = {**_period(campaign), "unit": code}
    rows = ranking.ranking(ctx, username, "unit", campaign.starts_on, campaign.ends_on)
    return {
        "unit": {"code": unit.code, "name": unit.name}, "campaign": campaign,
        "generated_at": ctx.now.astimezone(SHANGHAI),
        "overview": stats.overview(ctx, username, filters),
        "by_category": stats.figures(ctx, username, "category", filters),
        "by_stage": stats.figures(ctx, username, "stage", filters),
        "ranking": next((r for r in rows if r["code"] == code), None),
        "open": _open_clues(ctx, user, code, campaign),
        "reports": unit_reports(ctx, campaign, [code])[code],
    }


def unit_summary(ctx: Context, username: str, code: str, campaign_id: int | None = None) -> tuple[bytes, str]:
    """One unit's year-end summary as .docx, and its file name (see unit_summary_data)."""
    data = unit_summary_data(ctx, username, code, campaign_id)
    audit.record_download(ctx, username, "year-end-unit.docx", target=f"unit:{code}",
                          campaign=data["campaign"].id)
    return render_unit_summary(data), f"{data['unit']['name']}{data['campaign'].year}年度专项行动工作总结.docx"


def _team(reports: dict[str, Any]) -> str:
    contacts = reports.get("contacts")
    if not contacts:
        return "尚未报备专项行动工作专班人员。"
    leader = f"{contacts.get('leader_title', '')}{contacts.get('leader_name', '')}"
    return (f"专项行动工作专班由{leader}分管，联络员{contacts.get('contact_name', '')}"
            f"（{contacts.get('contact_phone', '')}）。")


def _self_inspection(reports: dict[str, Any]) -> str:
    found = reports.get("self_inspection")
    if not found:
        return "尚未报送自查问题清单。"
    day = chinese_date(_local_day(found["at"]))
    if found.get("none_found") or not found.get("problems"):
        return f"{day}报送自查问题清单，未发现问题。"
    return f"{day}报送自查问题清单，自查发现问题{len(found['problems'])}条，已转为问题线索办理。"


def _texts(doc: OfficialDocument, text: str, limit: int | None = None) -> None:
    if limit is not None and len(text) > limit:
        text = text[:limit] + "……（全文见该单位工作总结）"
    for line in text.splitlines():
        if line.strip():
            doc.paragraph(line.strip())


def _unit_figures(o: dict[str, Any], r: dict[str, Any] | None) -> str:
    text = (f"专项行动期间共承办问题线索{o['clues']}条，已销号{o['closed']}条，办结率{percent(o['closure_rate'])}；"
            f"逾期未办结{o['overdue']}条，挂牌督办{o['listed_for_supervision']}条，移送纪检监察机关{o.get('referred', 0)}条。"
            f"涉及拖欠账款{wan(o['owed'])}万元，已支付{wan(o['paid'])}万元，清偿率{percent(o.get('paid_rate'))}。")
    if r is not None:
        days = "—" if r["avg_days_to_close"] is None else f"{r['avg_days_to_close']:.1f}天"
        text += (f"按期办结率{percent(r['on_time_rate'])}，平均办结用时{days}，被退回重新整改{r['sendbacks']}次，"
                 f"实地抽查未通过{r['spot_check_failures']}次。")
    return text


def render_unit_summary(data: dict[str, Any]) -> bytes:
    campaign, unit, moment = data["campaign"], data["unit"], data["generated_at"]
    reports = data["reports"]
    doc = OfficialDocument(f"{unit['name']}{campaign.name}工作总结")
    doc.title(f"{campaign.name}工作总结", subtitle=unit["name"])
    doc.note(f"本总结由系统根据{chinese_date(campaign.starts_on)}至{chinese_date(campaign.ends_on)}登记的问题线索办理数据"
             f"和本单位报送的材料生成，数据截至{moment_text(moment)}。")

    doc.heading(1, "基本情况")
    doc.paragraph(f"{unit['name']}{_team(reports)}{_self_inspection(reports)}")

    doc.heading(2, "问题线索办理情况")
    doc.paragraph(_unit_figures(data["overview"], data["ranking"]))
    doc.table(("问题类别", "线索数", "涉及金额（万元）", "已支付（万元）"), figure_rows(data["by_category"]),
              widths_cm=(6.0, 2.4, 3.6, 3.6), numeric=(1, 2, 3), bold_last=True)
    stages = data["by_stage"]
    doc.picture(charts.bar_chart("各办理阶段线索数", [r["label"] for r in stages],
                                 [("线索数", [r["count"] for r in stages])], unit="条"))
    owing = [r for r in data["by_category"] if r["owed"]]
    if owing:
        doc.picture(charts.bar_chart("各类问题涉及金额与已支付金额", [r["label"] for r in owing],
                                     [("涉及金额", [float(money.wan(r["owed"])) for r in owing]),
                                      ("已支付", [float(money.wan(r["paid"])) for r in owing])], unit="万元"))

    doc.heading(3, "工作总结")
    summary = reports.get("summary")
    if summary:
        doc.note(f"以下为本单位{chinese_date(_local_day(summary['at']))}报送的工作总结。")
        for n, (field, title) in enumerate(((f, t) for f, t in SUMMARY_FIELDS if summary.get(f)), start=1):
            doc.subheading(n, title)
            _texts(doc, summary[field])
    else:
        doc.paragraph(f"截至{moment_text(moment)}，本单位尚未报送工作总结。")

    doc.heading(4, "尚未办结的问题")
    open_clues = data["open"]
    if open_clues["items"]:
        doc.paragraph(f"截至{moment_text(moment)}，本单位尚有{open_clues['total']}条问题线索正在办理：")
        doc.table(("序号", "线索编号", "企业名称", "问题类别", "办理阶段", "整改期限", "亮灯"),
                  [[i, f"#{c['clue_id']}", c["enterprise_name"], LABELS["category"].get(c["category"] or "", ""),
                    stage_label(c["stage"]), c["deadline"] or "", light_label(c["light"])]
                   for i, c in enumerate(open_clues["items"], start=1)],
                  widths_cm=(0.9, 1.3, 4.3, 3.4, 1.9, 2.6, 1.2))
        more_note(doc, open_clues, "正在办理的问题")
    else:
        doc.paragraph("本单位承办的问题线索均已办结。")
    return doc.content()


# --- the city -----------------------------------------------------------------------------------------

def city_summary_data(ctx: Context, username: str, campaign_id: int | None = None) -> dict[str, Any]:
    """Everything in the city's summary.

    :raises Forbidden: neither the office nor the supervisor. :raises NotFound: no such campaign.
    """
    user = _user(ctx, username, CITY_ROLES)
    campaign = _campaign(ctx, campaign_id)
    period = _period(campaign)
    units = _units(ctx, user)
    unit_ranking = ranking.ranking(ctx, username, "unit", campaign.starts_on, campaign.ends_on)
    return {
        "campaign": campaign, "generated_at": ctx.now.astimezone(SHANGHAI),
        "overview": stats.overview(ctx, username, period),
        "by_category": stats.figures(ctx, username, "category", period),
        "by_unit": stats.figures(ctx, username, "unit", period),
        "closed_by_unit": {r["code"]: r["closed"] for r in unit_ranking},
        "trend": trend_between(ctx, username, period, campaign.starts_on, campaign.ends_on),
        "unit_ranking": unit_ranking,
        "group_ranking": ranking.ranking(ctx, username, "group", campaign.starts_on, campaign.ends_on),
        "units": [{"code": u.code, "name": u.name} for u in units],
        "reports": unit_reports(ctx, campaign, [u.code for u in units]),
        "unit_names": stats.names(ctx.session, "unit"),
    }


def city_summary(ctx: Context, username: str, campaign_id: int | None = None) -> tuple[bytes, str]:
    """The city's year-end summary as .docx, and its file name (see city_summary_data)."""
    data = city_summary_data(ctx, username, campaign_id)
    audit.record_download(ctx, username, "year-end-city.docx", target=f"campaign:{data['campaign'].id}")
    return render_city_summary(data), f"{data['campaign'].name}工作总结.docx"


def render_city_summary(data: dict[str, Any]) -> bytes:
    campaign, moment = data["campaign"], data["generated_at"]
    o, reports, names = data["overview"], data["reports"], data["unit_names"]
    doc = OfficialDocument(f"{campaign.name}工作总结")
    doc.title(f"{campaign.name}工作总结")
    doc.paragraph(f"{chinese_date(campaign.starts_on)}至{chinese_date(campaign.ends_on)}，全市各责任单位、各工作专班"
                  f"按照专项行动部署，开展问题线索收集、交办、整改、销号和实地抽查工作。现将专项行动开展情况总结如下。"
                  f"数据截至{moment_text(moment)}。")

    doc.heading(1, "总体情况")
    doc.paragraph(
        f"专项行动期间共登记问题线索{o['clues']}条，已销号{o['closed']}条、不予受理{o['rejected']}条、正在办理{o['open']}条，"
        f"办结率{percent(o['closure_rate'])}。涉及拖欠账款{wan(o['owed'])}万元，已支付{wan(o['paid'])}万元，"
        f"清偿率{percent(o.get('paid_rate'))}。挂牌督办{o['listed_for_supervision']}条，"
        f"移送纪检监察机关{o.get('referred', 0)}条。")
    doc.table(("问题类别", "线索数", "涉及金额（万元）", "已支付（万元）"), figure_rows(data["by_category"]),
              widths_cm=(6.0, 2.4, 3.6, 3.6), numeric=(1, 2, 3), bold_last=True)
    trend = data["trend"]
    doc.picture(charts.line_chart("每周登记与销号线索数", [r["week_start"][5:] for r in trend],
                                  [("登记", [r["registered"] for r in trend]), ("销号", [r["closed"] for r in trend])],
                                  unit="条"))

    doc.heading(2, "各责任单位办理情况")
    ranking_table(doc, data["unit_ranking"])
    doc.picture(units_chart(data["by_unit"], data["closed_by_unit"], names))

    doc.heading(3, "各工作专班办理情况")
    ranking_table(doc, data["group_ranking"])

    doc.heading(4, "拖欠账款清偿情况")
    owed_and_paid(doc, data["by_unit"], names, "专项行动期间")

    doc.heading(5, "各单位工作总结报送情况")
    units = data["units"]
    sent = [u for u in units if reports[u["code"]].get("summary")]
    missing = [u["name"] for u in units if not reports[u["code"]].get("summary")]
    doc.paragraph(f"全市{len(units)}个责任单位中，{len(sent)}个已报送工作总结"
                  + (f"，{len(missing)}个尚未报送：{'、'.join(missing)}。" if missing else "，已全部报送。"))
    doc.table(("序号", "单位", "专班分管领导", "自查问题（条）", "工作总结报送日期"),
              [[i, u["name"], _leader(reports[u["code"]]), _found(reports[u["code"]]),
                chinese_date(_local_day(reports[u["code"]]["summary"]["at"])) if reports[u["code"]].get("summary")
                else "未报送"] for i, u in enumerate(units, start=1)],
              widths_cm=(1.0, 4.8, 3.6, 2.6, 3.6), numeric=(3,))

    doc.heading(6, "各单位工作总结摘编")
    if sent:
        for n, unit in enumerate(sent, start=1):
            doc.subheading(n, unit["name"])
            _texts(doc, reports[unit["code"]]["summary"].get("summary", ""), EXCERPT_CHARS)
    else:
        doc.paragraph("暂无单位报送工作总结。")

    doc.heading(7, "存在的问题和下一步打算")
    doc.paragraph(f"截至{moment_text(moment)}，尚有{o['open']}条问题线索正在办理，其中逾期未办结{o['overdue']}条。"
                  "下一步，对未办结问题继续跟踪督办，直至整改到位；对整改不力、虚假整改的，按规定移送纪检监察机关；"
                  "总结专项行动经验，建立健全防止拖欠账款、确保政策兑现的长效机制。")
    doc.signature(DEFAULT_ISSUER, moment.date())
    return doc.content()


def _leader(reports: dict[str, Any]) -> str:
    contacts = reports.get("contacts") or {}
    if not contacts.get("leader_name"):
        return "未报备"
    title = contacts.get("leader_title")
    return f"{contacts['leader_name']}（{title}）" if title else contacts["leader_name"]


def _found(reports: dict[str, Any]) -> str:
    found = reports.get("self_inspection")
    if not found:
        return "未报送"
    return "0" if found.get("none_found") else str(len(found.get("problems") or []))
