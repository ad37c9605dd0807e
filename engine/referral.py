"""The referral dossier (移送材料) of a clue referred to the discipline inspectors, and its receipt.

The office prepares and downloads the dossier: a transfer letter (移交函) and a registration
form (移交登记表) filled from the record, with the evidence list, the timeline and the head
hash of the clue's history. The discipline office records its receipt once (who, when, a
note): a `referral_receipt` row and a `referral_received` event in the clue's hash chain, in
one transaction. Receiving the dossier is not the process task 纪检监察受理 (Task_referral),
which records whether the inspectors take the case up; the two are independent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.shared import Cm, Pt
from sqlalchemy import func, select

from . import access, audit
from .case_file import (RESULT_LABELS, Record, add_evidence, add_timeline, chain_items, gather, landscape,
                        local, money, new_document, table, to_bytes, yes_no)
from .clock import SHANGHAI
from .clues import get_clue
from .context import Context
from .db.models import Campaign, Clue, HumanTask, ProcessInstance, Role, User
from .db.report_models import CreditRecord, ReferralReceipt
from .errors import Conflict, ValidationFailed
from .ledger import LABELS
from .referral_receipt import RECEIPT_FORM, RECEIPT_KIND, write_receipt
from .tasks import complete_task

PREPARING_ROLES = (Role.office, Role.discipline)  # the office sends it; the inspectors read what they receive
RECEIVING_ROLES = (Role.discipline,)
MAX_NOTE = 2000


def _referred(ctx: Context, username: str, clue_id: int, roles: tuple[Role, ...]) -> tuple[User, Clue]:
    user = access.get_user(ctx.session, username)
    access.require_role(user, *roles)
    clue = get_clue(ctx, clue_id)
    access.require_can_see_clue(user, clue)
    return user, clue


def receipt_summary(receipt: ReferralReceipt, people: dict[str, str] | None = None) -> dict[str, Any]:
    return {"clue_id": receipt.clue_id, "received_by": receipt.received_by,
            "received_by_name": (people or {}).get(receipt.received_by, receipt.received_by),
            "received_at": receipt.received_at.isoformat(), "note": receipt.note,
            "history_head_before": receipt.history_head_before, "event_seq": receipt.event_seq,
            "event_hash": receipt.event_hash}


def _receipt_of(ctx: Context, clue_id: int) -> ReferralReceipt | None:
    return ctx.session.scalar(select(ReferralReceipt).where(ReferralReceipt.clue_id == clue_id))


def _referred_at(ctx: Context, clue_id: int) -> datetime | None:
    return ctx.session.scalar(select(func.min(CreditRecord.confirmed_at)).where(
        CreditRecord.clue_id == clue_id, CreditRecord.basis == "referred"))


def referral_of(ctx: Context, username: str, clue_id: int) -> dict[str, Any]:
    """A clue's referral as the office or an inspector sees it: referred or not, the receipt, what they may do.

    :raises NotFound: no such clue. :raises Forbidden: not the office or the discipline office.
    """
    user, clue = _referred(ctx, username, clue_id, PREPARING_ROLES)
    receipt = _receipt_of(ctx, clue.id)
    people = {}
    if receipt is not None:
        received = ctx.session.scalar(select(User).where(User.username == receipt.received_by))
        people = {received.username: received.display_name} if received else {}
    referred_at = _referred_at(ctx, clue.id)
    return {"clue_id": clue.id, "enterprise_name": clue.enterprise_name, "debtor": clue.debtor,
            "referred": clue.referred, "referred_at": referred_at.isoformat() if referred_at else None,
            "receipt": receipt_summary(receipt, people) if receipt else None,
            "may_receive": clue.referred and receipt is None and user.role in RECEIVING_ROLES}


def list_referrals(ctx: Context, username: str, received: bool | None = None, page: int = 1,
                   per_page: int = 50) -> dict[str, Any]:
    """The referred clues, newest first, with their receipt (`received` filters on it).

    :raises Forbidden: not the office or the discipline office. :raises ValidationFailed: bad paging.
    """
    access.require_role(access.get_user(ctx.session, username), *PREPARING_ROLES)
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationFailed("bad paging", {"page": "page ≥ 1，per_page 为 1–200"})
    where = [Clue.referred.is_(True)]
    if received is not None:
        exists = select(ReferralReceipt.id).where(ReferralReceipt.clue_id == Clue.id).exists()
        where.append(exists if received else ~exists)
    total = ctx.session.scalar(select(func.count()).select_from(Clue).where(*where)) or 0
    clues = list(ctx.session.scalars(select(Clue).where(*where).order_by(Clue.updated_at.desc(), Clue.id.desc())
                                     .offset((page - 1) * per_page).limit(per_page)))
    ids = [c.id for c in clues]
    receipts = {r.clue_id: r for r in ctx.session.scalars(select(ReferralReceipt).where(
        ReferralReceipt.clue_id.in_(ids)))} if ids else {}
    since = dict(ctx.session.execute(select(CreditRecord.clue_id, func.min(CreditRecord.confirmed_at)).where(
        CreditRecord.clue_id.in_(ids), CreditRecord.basis == "referred").group_by(CreditRecord.clue_id)).all()) \
        if ids else {}
    receivers = {r.received_by for r in receipts.values()}
    people = dict(ctx.session.execute(select(User.username, User.display_name).where(
        User.username.in_(receivers))).all()) if receivers else {}
    items = [{"clue_id": c.id, "enterprise_name": c.enterprise_name, "debtor": c.debtor, "category": c.category,
              "responsible_unit": c.responsible_unit, "referred_at": since[c.id].isoformat() if c.id in since else None,
              "receipt": receipt_summary(receipts[c.id], people) if c.id in receipts else None} for c in clues]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def record_receipt(ctx: Context, username: str, clue_id: int, note: str = "") -> dict[str, Any]:
    """The discipline office records that it received the clue's dossier: once, in the verified history.

    :raises Forbidden: not the discipline office. :raises NotFound: no such clue.
    :raises Conflict: the clue is not referred, or its receipt is already recorded.
    :raises ValidationFailed: the note is too long.
    """
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed("note too long", {"note": f"签收意见不超过 {MAX_NOTE} 字"})
    user, clue = _referred(ctx, username, clue_id, RECEIVING_ROLES)
    if not clue.referred:
        raise Conflict(f"clue {clue_id} has not been referred")
    instance = ctx.session.get(ProcessInstance, clue.instance_id, with_for_update=True) if clue.instance_id else None
    if instance is None:
        raise Conflict(f"clue {clue_id} has no process instance")
    # The instance row lock (and SQLite's write lock) orders concurrent receipts; the
    # unique clue_id is the last guard.
    if _receipt_of(ctx, clue.id) is not None:
        raise Conflict(f"the referral of clue {clue_id} has already been received")
    receipt = write_receipt(ctx, user, clue, instance, note)
    task = ctx.session.scalar(select(HumanTask).where(HumanTask.clue_id == clue.id,
                                                      HumanTask.form_key == RECEIPT_FORM).limit(1))
    if task is not None and task.audience in access.audiences(user):
        # Signing here is the 纪检监察受理 task too: one act, not two (its completion sees the receipt).
        complete_task(ctx, task.id, user.username, {"received": True, **({"note": note} if note else {})})
    return receipt_summary(receipt, {user.username: user.display_name})


# --- the dossier ----------------------------------------------------------------------------
def _latest(record: Record, key: str) -> dict[str, Any]:
    """The data of the newest completed task that submitted `key` (the spot-check, the escalation decision)."""
    for entry in reversed(record.timeline):
        data = entry.get("data") or {}
        if entry["kind"] == "task_completed" and isinstance(data, dict) and key in data:
            return {**data, "_actor": entry["actor"], "_at": entry["at"]}
    return {}


def _reason(record: Record) -> tuple[str, dict[str, Any]]:
    check = _latest(record, "result")
    decision = _latest(record, "decision")
    if decision.get("decision") == "refer" and (not check or decision["_at"] >= check["_at"]):
        return (f"退回重新整改次数超限，经督办决定移送（处理意见：{decision.get('note') or '无'}）", check)
    if check:
        text = f"实地抽查认定为“{RESULT_LABELS.get(check.get('result'), check.get('result'))}”"
        if check.get("misconduct"):
            text += "，并发现干部作风问题或违纪违法线索"
        return text, check
    return "经办理认定需移送纪检监察机关处理", check


def _referrer(record: Record) -> str:
    """Who referred the clue (the office's decision after too many send-backs, or the spot-check
    that found it fake): the 经办人 of the letter, whoever downloads it later."""
    check, decision = _latest(record, "result"), _latest(record, "decision")
    if decision.get("decision") == "refer" and (not check or decision["_at"] >= check["_at"]):
        actor = decision["_actor"]
    elif check:
        actor = check["_actor"]
    else:
        return ""
    return str(record.people.get(actor, actor))


def _date_cn(moment: datetime) -> str:
    day = moment.astimezone(SHANGHAI)
    return f"{day.year}年{day.month}月{day.day}日"


def build_dossier(ctx: Context, username: str, clue_id: int) -> tuple[bytes, str]:
    """The referral dossier of a referred clue as .docx bytes and a file name.

    :raises NotFound: no such clue. :raises Forbidden: not the office or the discipline office.
    :raises Conflict: the clue has not been referred.
    """
    record = gather(ctx, username, clue_id, PREPARING_ROLES)
    clue = record.clue
    if not clue.referred:
        raise Conflict(f"clue {clue_id} has not been referred")
    campaign = ctx.session.get(Campaign, clue.campaign_id)
    campaign_name = campaign.name if campaign else "诚信政府建设专项行动"
    year = campaign.year if campaign else ctx.now.year
    receipt = _receipt_of(ctx, clue.id)
    referred_at = _referred_at(ctx, clue.id)
    reason, check = _reason(record)
    number = f"诚信移〔{year}〕{clue.id}号"
    category = LABELS["category"].get(clue.category or "", clue.category or "")
    unit = record.names.get(clue.responsible_unit or "", clue.responsible_unit or "")

    document = new_document()
    # 移交函 -------------------------------------------------------------------------------
    heading = document.add_paragraph("关于移送问题线索的函", style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(number).alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph("纪检监察机关：")
    body = (f"在{campaign_name}中，{clue.enterprise_name}反映{clue.debtor}“{clue.summary}”的问题"
            f"（线索编号 #{clue.id}，问题类别：{category or '未分类'}，责任单位：{unit or '未交办'}），{reason}。"
            f"根据专项行动方案“对虚假整改、干部作风问题移送纪检监察机关”的要求，现将该问题线索及相关材料移送你单位，"
            f"请依规依纪依法处理，并将处理结果反馈我办。")
    paragraph = document.add_paragraph(body)
    paragraph.paragraph_format.first_line_indent = Pt(21)
    paragraph.paragraph_format.line_spacing = 1.5
    count = record.instance.history_count if record.instance else 0
    document.add_paragraph("附件：")
    for line in ("1. 问题线索移交登记表", f"2. 证据材料清单（共 {len(record.evidence)} 件）",
                 f"3. 办理过程记录（共 {count} 条，{record.hash_alg.upper()} 链头哈希 {record.head}）"):
        document.add_paragraph(line).paragraph_format.left_indent = Cm(1)
    for line in (f"{campaign_name}综合办公室", _date_cn(ctx.now)):
        document.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    referrer = _referrer(record)
    document.add_paragraph(f"经办人：{referrer}")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    # 移交登记表 -----------------------------------------------------------------------------
    heading = document.add_paragraph("问题线索移交登记表", style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    checker = record.people.get(check.get("_actor", ""), check.get("_actor", "")) if check else ""
    # The receipt is an event of the timeline, so its author is among the people named there.
    receiver = record.people.get(receipt.received_by, receipt.received_by) if receipt else ""
    rows = [
        ["移送编号", number, "移送日期", local(referred_at, with_time=False) or local(ctx.now, with_time=False)],
        ["线索编号", f"#{clue.id}", "线索来源", LABELS["source"].get(clue.source, clue.source)],
        ["被反映单位（失信主体）", clue.debtor, "问题类别", category],
        ["反映企业", clue.enterprise_name, "统一社会信用代码", clue.uscc or ""],
        ["欠款金额", money(clue.amount_owed), "已支付金额", money(clue.amount_paid)],
        ["牵头专班", record.names.get(clue.work_group or "", clue.work_group or ""), "责任单位", unit],
        ["整改期限", clue.deadline.isoformat() if clue.deadline else "", "退回次数", str(clue.sendback_count or 0)],
        ["抽查结论", RESULT_LABELS.get(check.get("result"), "") if check else "", "抽查日期",
         str(check.get("checked_on") or "") if check else ""],
        ["干部作风问题", yes_no(check.get("misconduct")) if check else "", "抽查人", checker],
        ["抽查发现", str(check.get("findings") or "") if check else "", "", ""],
        ["移送理由", reason, "", ""],
        ["问题概述", clue.summary, "", ""],
        ["证据材料", f"{len(record.evidence)} 件（见证据材料清单）", "历史记录", f"{count} 条（见办理过程记录）"],
        ["历史记录链头哈希", f"{record.hash_alg.upper()}：{record.head}", "", ""],
        ["哈希链校验", chain_items(record)[-1][1], "", ""],
        ["移送单位", "综合办公室", "经办人", referrer],
        ["接收单位", "纪检监察机关", "签收人", receiver],
        ["签收时间", local(receipt.received_at) if receipt else "", "签收意见", receipt.note if receipt else ""],
    ]
    form = table(document, None, rows, [3.2, 5.4, 2.6, 5.4], 9.5)
    for row in form.rows:  # the long fields take the whole row
        if row.cells[2].text == "" and row.cells[3].text == "":
            merged = row.cells[1].merge(row.cells[3])
            for extra in merged.paragraphs[1:]:  # the merged-in cells' empty paragraphs
                if not extra.text:
                    extra._p.getparent().remove(extra._p)
    document.add_paragraph("本表由系统根据线索办理记录生成；链头哈希可在系统中核验，证明所附办理过程记录未被改动、删减。")

    landscape(document)
    document.add_heading("证据材料清单", level=1)
    add_evidence(document, record)
    document.add_heading("办理过程记录", level=1)
    add_timeline(ctx, document, record)
    audit.record_download(ctx, record.user.username, "referral-dossier.docx", target=f"clue:{clue.id}")
    return to_bytes(document), f"移送材料_线索{clue.id}.docx"
