"""The case file (案卷) of one clue as a Word document: the clue's record, its diagram with the
path taken marked, the timeline of its verified history, its evidence list and the state of
its hash chain with the head hash — what a supervisor hands to the discipline inspectors.

The document parts (tables, headings, the timeline) are shared with the referral dossier
(`referral.py`). Everything is read in the caller's transaction; nothing is written.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from sqlalchemy import select
from SpiffWorkflow.util.task import TaskState

from . import access, audit, diagram_image, readable, vocabulary
from . import money as amounts
from .clock import SHANGHAI
from .clues import PRIVATE_FIELDS, get_clue
from .context import Context
from .db.models import Clue, Evidence, OrgUnit, ProcessInstance, Role, User, WorkGroup
from .errors import Conflict
from .history import events_of, verify_instance
from .ledger import LABELS

log = logging.getLogger(__name__)
CASE_FILE_ROLES = (Role.office, Role.supervisor, Role.discipline)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BODY_FONT, HEADING_FONT = "宋体", "黑体"

KIND_LABELS, ROLE_LABELS, RESULT_LABELS = vocabulary.EVENT, vocabulary.ROLE, vocabulary.RESULT
HIDDEN_VARIABLES = readable.HIDDEN_VARIABLES
MAX_VALUE_CHARS = 1000


# --- what goes in ---------------------------------------------------------------------------
@dataclass
class Record:
    """Everything the documents of one clue are made of, read once."""

    clue: Clue
    instance: ProcessInstance | None
    user: User
    names: dict[str, str]          # unit and group codes -> names
    people: dict[str, str]         # usernames -> display names
    timeline: list[dict[str, Any]]
    evidence: list[Evidence]
    chain_ok: bool
    chain_problem: str | None
    private: bool                  # the reader sees who complained

    @property
    def head(self) -> str:
        return (self.instance.history_head or "") if self.instance else ""

    @property
    def hash_alg(self) -> str:
        return self.timeline[-1]["hash_alg"] if self.timeline and self.timeline[-1].get("hash_alg") else "sm3"


def timeline_of(ctx: Context, instance_id: int, include_private: bool = True) -> list[dict[str, Any]]:
    """The instance's history, one dict per event (instance_view.timeline, with each event's hash)."""
    try:
        from . import instance_view  # another area's module; the plain events until it is there
        entries = instance_view.timeline(ctx, instance_id, include_private)
    except ImportError:  # pragma: no cover - only while instance_view did not exist
        entries = None
    events = events_of(ctx.session, instance_id)
    hashes = {e.seq: (e.hash, e.hash_alg) for e in events}
    if entries is None:
        entries = [{"seq": e.seq, "at": e.at, "actor": e.actor, "actor_role": e.actor_role, "kind": e.kind,
                    "element_id": e.element_id, "element_name": e.element_name, "data": e.data, "changed": {}}
                   for e in events]
    for entry in entries:
        entry["hash"], entry["hash_alg"] = hashes.get(entry["seq"], (None, None))
        if isinstance(entry.get("at"), str):
            entry["at"] = datetime.fromisoformat(entry["at"])
    return entries


def gather(ctx: Context, username: str, clue_id: int, roles: Iterable[Role] = CASE_FILE_ROLES) -> Record:
    """Read what the documents need, as `username` may see it.

    :raises NotFound: no such clue. :raises Forbidden: the role may not have the document.
    :raises Conflict: the clue has no process instance.
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, *roles)
    clue = get_clue(ctx, clue_id)
    access.require_can_see_clue(user, clue)
    if clue.instance_id is None:
        raise Conflict(f"clue {clue_id} has no process instance")
    instance = ctx.session.get(ProcessInstance, clue.instance_id)
    assert instance is not None
    events = events_of(ctx.session, instance.id)
    problem = verify_instance(instance, events)
    timeline = timeline_of(ctx, instance.id, access.sees_complainant(user))
    names = {u.code: u.name for u in ctx.session.scalars(select(OrgUnit))}
    names.update({g.code: g.name for g in ctx.session.scalars(select(WorkGroup))}, office="综合办公室")
    actors = {e["actor"] for e in timeline}
    people = {u.username: u.display_name for u in ctx.session.scalars(select(User).where(User.username.in_(actors)))}
    evidence = list(ctx.session.scalars(select(Evidence).where(Evidence.clue_id == clue.id).order_by(Evidence.id)))
    return Record(clue, instance, user, names, people, timeline, evidence, problem is None,
                  None if problem is None else f"第 {problem.seq} 条：{problem.reason}", access.sees_complainant(user))


# --- the path taken -------------------------------------------------------------------------
def path_taken(ctx: Context, instance: ProcessInstance) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """(visited element ids, current element ids, (source, target) transitions taken), from the task tree."""
    from .instances import rebuild_workflow  # instances imports projections, which import credit

    visited: set[str] = set()
    current: set[str] = set()
    transitions: set[tuple[str, str]] = set()
    try:
        workflow = rebuild_workflow(ctx, instance)
    except Exception:  # noqa: BLE001 - a case file is still owed when the blob cannot be read back
        log.warning("instance %s: workflow not rebuilt; the diagram marks the history only", instance.id,
                    exc_info=True)
        workflows = []
    else:
        workflows = [workflow, *getattr(workflow, "subprocesses", {}).values()]
    for flow in workflows:
        for task in flow.get_tasks():
            element = task.task_spec.bpmn_id
            if task.state == TaskState.COMPLETED:
                target = visited
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                target = current
            else:
                continue
            if element is None:
                continue
            target.add(element)
            parent = task.parent
            while parent is not None and parent.task_spec.bpmn_id is None:
                parent = parent.parent
            if parent is not None:
                transitions.add((parent.task_spec.bpmn_id, element))
    # Tasks that were reached and then cancelled (a chase ended by the report) are in the history.
    for event in events_of(ctx.session, instance.id):
        if event.element_id and event.kind in ("task_completed", "task_cancelled", "timer_fired", "script_run",
                                               "decision_made", "end_reached"):
            visited.add(event.element_id)
    return visited - current, current, transitions


def diagram_xml(instance: ProcessInstance) -> str | None:
    """The BPMN file of the instance's process version that holds its process."""
    files = [f for f in instance.definition.files if f.kind == "bpmn"]
    for file in files:
        if f'id="{instance.process_id}"' in file.content:
            return file.content
    return files[0].content if files else None


def diagram_png(ctx: Context, instance: ProcessInstance, max_pixels: int = 3600) -> bytes | None:
    """The instance's diagram with visited and current elements marked, or None without a drawable diagram."""
    xml = diagram_xml(instance)
    if xml is None:
        return None
    visited, current, transitions = path_taken(ctx, instance)
    try:
        return diagram_image.render_png(xml, visited, current, transitions or None, max_pixels=max_pixels)
    except diagram_image.NoDiagram:
        return None


def clue_diagram(ctx: Context, username: str, clue_id: int) -> bytes | None:
    """The clue's diagram PNG for one who may have its case file. :raises Forbidden, NotFound, Conflict:"""
    record = gather(ctx, username, clue_id)
    assert record.instance is not None
    return diagram_png(ctx, record.instance)


# --- formatting -----------------------------------------------------------------------------
def local(moment: datetime | None, with_time: bool = True) -> str:
    if moment is None:
        return ""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def money(value: Decimal | float | None) -> str:
    return "" if value is None else f"{amounts.of(value):,.2f} 元"


yes_no = vocabulary.yes_no


def field_labels(ctx: Context) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Field titles and enum labels of every form, for showing submitted data in Chinese."""
    titles: dict[str, str] = {}
    enums: dict[str, dict[str, str]] = {}
    forms = ctx.runtime.forms
    for key in sorted(forms.keys()):
        form = forms.get(key)
        for name, spec in form.schema.get("properties", {}).items():
            titles.setdefault(name, spec.get("title", name))
            labels = form.ui.get("fields", {}).get(name, {}).get("enum_labels")
            if labels:
                enums.setdefault(name, {str(k): str(v) for k, v in labels.items()})
    titles.update({"enterprise_name": "企业名称", "debtor": "被反映单位", "summary": "问题概述", "amount_owed": "欠款金额",
                   "source": "线索来源", "uscc": "统一社会信用代码", "county": "所在县市区", "work_group": "牵头专班",
                   "lead_units": "牵头单位", "sendback_count": "退回次数", "spot_check_selected": "纳入抽查",
                   "refer": "移送纪检", "redo": "重新整改", "complainant_name": "反映人", "complainant_phone": "联系电话",
                   "evidence_id": "证据编号", "filename": "文件名", "media_type": "文件类型", "size": "大小（字节）",
                   "hash": "文件哈希", "hash_alg": "哈希算法", "text": "督办内容", "notice_id": "督办单编号",
                   "history_head_before": "签收前链头哈希", "message": "错误信息", "ended_by": "结束于",
                   "step": "督办步骤", "reason": "理由", "listed": "挂牌督办"})
    titles.setdefault("note", "意见")
    enums.setdefault("source", LABELS["source"])
    return titles, enums


def describe(data: Any, titles: dict[str, str], enums: dict[str, dict[str, str]], names: dict[str, str],
             private: bool, changed: dict[str, Any] | None = None) -> str:
    """An event's data as "字段：值" lines (variables of the start event flattened; empty values left
    out); a value that replaced an earlier one says what it was."""
    changed = changed or {}
    if not isinstance(data, dict):
        return "" if data is None else str(data)[:MAX_VALUE_CHARS]
    if isinstance(data.get("variables"), dict):
        data = {k: v for k, v in data["variables"].items() if k not in HIDDEN_VARIABLES}
    lines = []
    for key, value in data.items():
        if value in (None, "", [], {}) or (key in PRIVATE_FIELDS and not private):
            continue
        shown = _shown(key, value, enums, names)
        if len(shown) > MAX_VALUE_CHARS:
            shown = shown[:MAX_VALUE_CHARS] + "…"
        before = changed.get(key)
        if isinstance(before, list) and len(before) == 2 and before[0] not in (None, "") and key not in PRIVATE_FIELDS:
            shown += f"（原为 {_shown(key, before[0], enums, names)}）"
        lines.append(f"{titles.get(key, key)}：{shown}")
    return "\n".join(lines)


def _shown(key: str, value: Any, enums: dict[str, dict[str, str]], names: dict[str, str]) -> str:
    """One recorded value as a reader says it: 是/否, enum labels, unit and group names, step names."""
    if isinstance(value, bool):
        return yes_no(value)
    if key in enums and str(value) in enums[key]:
        return enums[key][str(value)]
    if key in ("responsible_unit", "work_group", "candidate_unit", "candidate_group") and isinstance(value, str):
        return names.get(value, value)
    if key == "step" and isinstance(value, str):
        return vocabulary.label("ladder", value)
    if key in ("category", "stage", "level", "light", "source") and isinstance(value, str):
        return vocabulary.label(key, value)
    if key in ("result", "spot_check_result") and isinstance(value, str):
        return vocabulary.label("result", value)
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        return local(datetime.fromisoformat(value))
    if key == "audiences" and isinstance(value, list):
        return "、".join(_audience(str(v), names) for v in value)
    if isinstance(value, list):
        return "、".join(names.get(str(v), str(v)) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}={v}" for k, v in value.items())
    return str(value)


_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")


def _audience(audience: str, names: dict[str, str]) -> str:
    kind, _, code = audience.partition(":")
    if kind == "role":
        return vocabulary.label("role", code)
    return names.get(code, code) if code else audience


# --- the document ---------------------------------------------------------------------------
def new_document() -> DocxDocument:
    document = Document()
    styles = document.styles
    for name, font, size in (("Normal", BODY_FONT, 10.5), ("Title", HEADING_FONT, 18), ("Heading 1", HEADING_FONT, 14),
                             ("Heading 2", HEADING_FONT, 12)):
        style = styles[name]
        style.font.name = font
        style.font.size = Pt(size)
        if name != "Normal":
            style.font.color.rgb = RGBColor(0, 0, 0)
            style.font.bold = True
        rpr = style.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = OxmlElement("w:rFonts")
            rpr.append(rfonts)
        rfonts.set(qn("w:eastAsia"), font)
        rfonts.set(qn("w:ascii"), font)
        rfonts.set(qn("w:hAnsi"), font)
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = section.bottom_margin = Cm(2.0)
    page_number_footer(section)
    return document


def page_number_footer(section: Any) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("第 ")
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
    paragraph.add_run(" 页")


def title(document: DocxDocument, text: str, subtitle: str | None = None) -> None:
    heading = document.add_paragraph(text, style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if subtitle:
        line = document.add_paragraph(subtitle)
        line.alignment = WD_ALIGN_PARAGRAPH.CENTER


def table(document: DocxDocument, headers: list[str] | None, rows: list[list[str]],
          widths: list[float] | None = None, font_size: float = 9) -> Table:
    """A bordered table; `headers` (bold, repeated on each page) may be None for key-value tables.

    Written as one piece of WordprocessingML: python-docx's per-cell API takes seconds for a
    timeline of a few hundred events.
    """
    count = len(headers) if headers else max((len(r) for r in rows), default=1)
    twips = [round(w * 567) for w in widths] if widths else [round(16.6 * 567 / count)] * count
    size = round(font_size * 2)
    parts = [f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="{_table_style(document)}"/>'
             '<w:tblW w:w="0" w:type="auto"/><w:jc w:val="center"/><w:tblLayout w:type="fixed"/>'
             '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" '
             'w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>']
    parts += [f'<w:gridCol w:w="{t}"/>' for t in twips]
    parts.append("</w:tblGrid>")
    if headers:
        parts.append(_row(headers, twips, size, lambda i: True, header=True))
    for row in rows:
        parts.append(_row(list(row) + [""] * (count - len(row)), twips, size, lambda i: not headers and i % 2 == 0))
    element = parse_xml("".join(parts) + "</w:tbl>")
    body = document.element.body
    last = body[-1] if len(body) else None
    if last is not None and last.tag == qn("w:sectPr"):
        last.addprevious(element)
    else:
        body.append(element)
    return Table(element, document._body)


def _table_style(document: DocxDocument) -> str:
    try:
        return str(document.styles["Table Grid"].style_id)
    except KeyError:  # pragma: no cover - python-docx's template has it
        return "TableGrid"


def _row(cells: list[str], twips: list[int], size: int, bold: Any, header: bool = False) -> str:
    parts = ['<w:tr><w:trPr><w:tblHeader/></w:trPr>' if header else "<w:tr>"]
    for i, (text, width) in enumerate(zip(cells, twips)):
        run_props = f'<w:rPr>{"<w:b/>" if bold(i) else ""}<w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'
        paragraphs = "".join(
            f'<w:p><w:r>{run_props}<w:t xml:space="preserve">{_xml_text(line)}</w:t></w:r></w:p>' if line else "<w:p/>"
            for line in str(text).split("\n"))
        parts.append(f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{paragraphs}</w:tc>')
    parts.append("</w:tr>")
    return "".join(parts)


def _xml_text(text: str) -> str:
    # Characters XML 1.0 cannot carry (control characters a form might have let through) are dropped.
    cleaned = "".join(ch for ch in text if ch in "\t" or ord(ch) >= 32 and not 0xD800 <= ord(ch) <= 0xDFFF
                      and ch not in "\ufffe\uffff")
    return xml_escape(cleaned)


def pairs(items: list[tuple[str, str]], per_row: int = 2) -> list[list[str]]:
    """Key-value items laid out `per_row` pairs to a row."""
    rows = []
    for i in range(0, len(items), per_row):
        row: list[str] = []
        for key, value in items[i:i + per_row]:
            row += [key, value]
        rows.append(row + [""] * (2 * per_row - len(row)))
    return rows


def clue_items(record: Record) -> list[tuple[str, str]]:
    clue, names = record.clue, record.names
    items = [
        ("线索编号", f"#{clue.id}"), ("线索来源", LABELS["source"].get(clue.source, clue.source)),
        ("企业名称", clue.enterprise_name), ("统一社会信用代码", clue.uscc or ""),
        ("被反映单位", clue.debtor), ("问题类别", LABELS["category"].get(clue.category or "", clue.category or "")),
        ("层级", LABELS["level"].get(clue.level or "", clue.level or "")), ("重点问题", yes_no(clue.key_problem)),
        ("牵头专班", names.get(clue.work_group or "", clue.work_group or "")),
        ("责任单位", names.get(clue.responsible_unit or "", clue.responsible_unit or "")),
        ("整改期限", clue.deadline.isoformat() if clue.deadline else ""),
        ("办理阶段", LABELS["stage"].get(clue.stage, clue.stage)),
        ("欠款金额", money(clue.amount_owed)), ("已支付金额", money(clue.amount_paid)),
        ("退回次数", str(clue.sendback_count or 0)),
        ("抽查结论", RESULT_LABELS.get(clue.spot_check_result or "", clue.spot_check_result or "")),
        ("移送纪检监察", yes_no(clue.referred)), ("所在县市区", clue.county or ""),
        ("登记时间", local(clue.created_at)), ("办结时间", local(clue.closed_at)),
    ]
    if record.private:
        items += [("反映人", clue.complainant_name or ""), ("联系电话", clue.complainant_phone or "")]
    return items


def timeline_rows(ctx: Context, record: Record) -> list[list[str]]:
    titles, enums = field_labels(ctx)
    rows = []
    for entry in record.timeline:
        actor = entry["actor"]
        who = "系统" if actor == "system" else record.people.get(actor, actor)
        if entry.get("actor_role"):
            who += f"（{ROLE_LABELS.get(entry['actor_role'], entry['actor_role'])}）"
        rows.append([str(entry["seq"]), local(entry["at"]), who, KIND_LABELS.get(entry["kind"], entry["kind"]),
                     entry.get("element_name") or entry.get("element_id") or "",
                     describe(entry.get("data"), titles, enums, record.names, record.private, entry.get("changed"))])
    return rows


TIMELINE_HEADERS = ["序号", "时间", "办理人", "事项", "环节", "内容"]
TIMELINE_WIDTHS = [1.1, 2.8, 3.2, 2.0, 3.2, 12.5]


def add_timeline(ctx: Context, document: DocxDocument, record: Record) -> Table:
    return table(document, TIMELINE_HEADERS, timeline_rows(ctx, record), TIMELINE_WIDTHS, 8)


def add_evidence(document: DocxDocument, record: Record) -> Table | None:
    if not record.evidence:
        document.add_paragraph("（无证据材料）")
        return None
    rows = [[str(i), e.filename, e.media_type, f"{e.size:,} 字节", record.people.get(e.uploaded_by, e.uploaded_by),
             local(e.uploaded_at), f"{e.hash_alg}:{e.content_hash}"] for i, e in enumerate(record.evidence, start=1)]
    return table(document, ["序号", "文件名", "类型", "大小", "上传人", "上传时间", "文件哈希"], rows,
                 [1.0, 5.0, 3.0, 2.2, 2.2, 2.8, 8.5], 8)


def chain_items(record: Record) -> list[tuple[str, str]]:
    count = record.instance.history_count if record.instance else 0
    return [("历史记录条数", str(count)), ("哈希算法", record.hash_alg.upper()),
            ("链头哈希", record.head),
            ("校验结果", "校验通过，记录未被改动" if record.chain_ok else f"校验未通过（{record.chain_problem}）")]


def landscape(document: DocxDocument) -> None:
    from docx.enum.section import WD_SECTION

    section = document.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21)
    section.left_margin = section.right_margin = Cm(1.8)


def to_bytes(document: DocxDocument) -> bytes:
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def build_case_file(ctx: Context, username: str, clue_id: int) -> tuple[bytes, str]:
    """The clue's case file as .docx bytes and a file name.

    :raises NotFound: no such clue. :raises Forbidden: not the office, a supervisor or an inspector.
    :raises Conflict: the clue has no process instance.
    """
    record = gather(ctx, username, clue_id)
    clue = record.clue
    document = new_document()
    title(document, "问题线索案卷", f"线索编号 #{clue.id} · {clue.enterprise_name}")
    meta = document.add_paragraph(f"生成时间：{local(ctx.now)}　　生成人：{record.user.display_name}"
                                  f"（{ROLE_LABELS.get(record.user.role.value, record.user.role.value)}）")
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_heading("一、线索基本情况", level=1)
    table(document, None, pairs(clue_items(record)), [3.0, 5.3, 3.0, 5.3], 9.5)
    document.add_heading("问题概述", level=2)
    document.add_paragraph(clue.summary)
    document.add_heading("二、历史记录校验", level=1)
    table(document, None, [[k, v] for k, v in chain_items(record)], [3.5, 13.1], 9.5)
    document.add_paragraph("历史记录逐条以哈希链相连，每条记录的哈希覆盖其内容和上一条的哈希；"
                           "链头哈希与系统中的记录一致，即可证明本案卷所列记录未被改动、删减。")
    landscape(document)
    document.add_heading("三、办理流程图", level=1)
    assert record.instance is not None
    png = diagram_png(ctx, record.instance)
    if png is None:
        document.add_paragraph("（该流程版本没有可绘制的流程图）")
    else:
        document.add_picture(BytesIO(png), width=Cm(25.5))
        caption = document.add_paragraph("图 1　办理流程图（绿色：已办理的环节和经过的路径；橙色：当前环节）")
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_heading("四、办理过程记录", level=1)
    add_timeline(ctx, document, record)
    document.add_heading("五、证据材料", level=1)
    add_evidence(document, record)
    audit.record_download(ctx, record.user.username, "case-file.docx", target=f"clue:{clue.id}")
    return to_bytes(document), f"案卷_线索{clue.id}.docx"
