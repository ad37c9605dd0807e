"""Problem-list import (问题清单导入): many intake forms at once from an Excel workbook.

The workbook's columns are the intake form's fields (forms/intake.json): `template_xlsx()`
writes a template from the form definition, `parse_problem_list()` reads a filled one back
into cleaned intake data plus a list of cell errors, and `import_problem_list()` turns every
row into a clue in the caller's transaction — all rows or none.
"""
from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from sqlalchemy import select

from . import access, clues, spreadsheet
from .context import Context
from .db.models import Clue, Role
from .errors import ValidationFailed
from .forms import FormDefinition, FormRegistry

FORM_KEY = "intake"
SHEET_TITLE = "问题清单"
HELP_SHEET_TITLE = "填写说明"
OPTIONS_SHEET_TITLE = "选项"
REQUIRED_MARK = "*"
MAX_ROWS = 20_000
# Cell errors kept in a preview; `error_count` still counts them all.
MAX_ERRORS = 1_000
# A workbook is a zip: refuse one that would inflate beyond this (zip bombs).
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
PROGRESS_EVERY = 100
# Excel keeps 15 significant digits: a longer code typed as a number is already damaged.
_EXCEL_DIGITS_LIMIT = 10 ** 15
_UNITS = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")

NOT_XLSX = "无法读取该文件：请上传 Excel 工作簿（.xlsx），可先下载模板填写"
OLD_XLS = "不支持旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 后重新上传"


@dataclass
class Preview:
    """What an uploaded problem list would import.

    `rows` holds the cleaned intake data of every valid row and `row_numbers` their Excel row
    numbers (same order); `errors` one dict per bad cell — {"row", "column", "field", "value",
    "message"} — where row 0 means the file as a whole and row 1 the header; `total` counts
    the non-empty data rows. At most MAX_ERRORS errors are kept; `error_count` counts all.
    `duplicates` warns, one dict per valid row that repeats an earlier row of the file or a clue
    still open (see `find_duplicates`); they are not errors — the office skips or keeps each.
    """

    rows: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    total: int
    row_numbers: list[int] = field(default_factory=list)
    error_count: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProblemListInvalid(ValidationFailed):
    """The problem list has errors; nothing was imported. `.preview` says which cells."""

    def __init__(self, preview: Preview) -> None:
        count = max(preview.error_count, len(preview.errors))
        super().__init__(f"问题清单有 {count} 处错误", fields={})
        self.preview = preview

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": self.preview.errors, "error_count": self.preview.error_count,
                "total": self.preview.total}


# --- the columns ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Column:
    field: str
    title: str
    required: bool
    schema: dict[str, Any]
    ui: dict[str, Any]

    @property
    def header(self) -> str:
        return f"{REQUIRED_MARK}{self.title}" if self.required else self.title

    @cached_property
    def labels(self) -> dict[str, str]:
        """code -> Chinese label, for fields with a fixed set of values."""
        labels = self.ui.get("enum_labels") or {}
        return {code: labels.get(code, code) for code in self.schema.get("enum", [])}


def _columns(form: FormDefinition) -> list[_Column]:
    properties = form.schema.get("properties", {})
    order = [name for name in form.ui.get("order", []) if name in properties]
    order += [name for name in properties if name not in order]
    required = set(form.schema.get("required", []))
    ui_fields = form.ui.get("fields", {})
    return [_Column(name, properties[name].get("title") or name, name in required, properties[name],
                    ui_fields.get(name, {})) for name in order]


def _header_key(text: str) -> str:
    """Normalise a header cell: width (NFKC), whitespace and the required mark do not matter."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    return text.strip("*").lower()


def _name_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


# --- the template --------------------------------------------------------------------------

def template_xlsx(forms: FormRegistry | None = None) -> bytes:
    """An empty problem list to fill in: one column per intake field, a source drop-down,
    instructions on a second sheet. Follows forms/intake.json, so it changes with the form."""
    if forms is None:
        from .settings import EngineSettings
        forms = FormRegistry(EngineSettings().forms_dir)
    columns = _columns(forms.get(FORM_KEY))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=spreadsheet.safe_text(column.header))
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        note = _column_note(column)
        if note:
            cell.comment = Comment(note, "系统")
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = 40 if column.schema.get("maxLength", 0) > 1000 else max(14, len(column.title) * 2 + 6)
        if column.schema.get("type") == "string" and not column.labels:
            dimension.number_format = "@"  # keep phone numbers and codes as typed
        if column.labels:
            _add_drop_down(workbook, sheet, letter, column)
    sheet.row_dimensions[1].height = 28
    sheet.freeze_panes = "A2"
    _write_help(workbook.create_sheet(HELP_SHEET_TITLE), columns)
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def _add_drop_down(workbook: Workbook, sheet: Any, letter: str, column: _Column) -> None:
    labels = list(column.labels.values())
    inline = ",".join(labels)
    if len(inline) <= 250 and not any('"' in label or "," in label for label in labels):
        formula = f'"{inline}"'
    else:  # too long (or unsafe) for an inline list: keep the options on a hidden sheet
        options = workbook[OPTIONS_SHEET_TITLE] if OPTIONS_SHEET_TITLE in workbook.sheetnames \
            else workbook.create_sheet(OPTIONS_SHEET_TITLE)
        options.sheet_state = "hidden"
        target = options.max_column + 1 if options.max_row > 1 or options["A1"].value is not None else 1
        for row, label in enumerate(labels, start=1):
            options.cell(row=row, column=target, value=spreadsheet.safe_text(label))
        col = get_column_letter(target)
        formula = f"'{OPTIONS_SHEET_TITLE}'!${col}$1:${col}${len(labels)}"
    validation = DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False,
                                showErrorMessage=True, showInputMessage=True)
    validation.errorTitle = f"{column.title}不在可选范围内"
    validation.error = "请从下拉列表中选择：" + "、".join(labels)
    validation.promptTitle = column.title
    validation.prompt = "请从下拉列表中选择"
    sheet.add_data_validation(validation)
    validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")


def _column_note(column: _Column) -> str:
    parts = []
    if column.labels:
        parts.append("可选：" + "、".join(column.labels.values()))
    for key in ("help", "placeholder"):
        if column.ui.get(key):
            parts.append(str(column.ui[key]))
    return "\n".join(parts)


def _column_rule(column: _Column) -> str:
    schema = column.schema
    rules = []
    if column.labels:
        rules.append("从下拉列表选择：" + "、".join(column.labels.values()) + "（也可填写代码：" +
                     "、".join(column.labels) + "）")
    if schema.get("type") in ("number", "integer"):
        rules.append("填写数字，如 1280000、1,280,000 或 128万")
        if "minimum" in schema:
            rules.append(f"不能小于 {schema['minimum']}")
    if schema.get("format") == "uscc":
        rules.append("18 位，请以文本格式填写")
    if schema.get("format") == "date":
        rules.append("日期，格式 YYYY-MM-DD")
    if "maxLength" in schema and schema.get("type") == "string" and schema.get("format") != "uscc":
        rules.append(f"不超过 {schema['maxLength']} 字")
    if column.ui.get("help"):
        rules.append(str(column.ui["help"]))
    elif column.ui.get("placeholder"):
        rules.append(str(column.ui["placeholder"]))
    return "；".join(rules)


def _write_help(sheet: Any, columns: list[_Column]) -> None:
    bold = Font(bold=True)
    lines = [
        "问题清单填写说明",
        "",
        f"1. 在“{SHEET_TITLE}”工作表中每行填写一条问题线索，从第 2 行开始；请勿修改或删除第 1 行表头。",
        f"2. 表头带 {REQUIRED_MARK} 的列为必填，其余列选填。",
        "3. 导入时整表校验：任何一处错误都不会导入任何数据，系统会列出出错的行号、列名和原因，修改后重新上传即可。",
        "4. 与同一文件中前面的行、或与已登记且尚在办理中的线索“企业名称”“失信（拖欠）主体”相同的行，导入前逐行提示，"
        "可选择跳过或保留；金额也相同的视为重复，默认跳过。",
        f"5. 每个文件最多 {MAX_ROWS} 行数据；空行会被忽略。",
        "6. 金额单位为元，可填写 1280000、1,280,000 或 128万。",
        "7. 联系电话、统一社会信用代码请以文本格式填写，避免 Excel 截断或改为科学计数法。",
        "",
    ]
    for line in lines:
        sheet.append(spreadsheet.row([line]))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["列名", "是否必填", "填写要求"])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for column in columns:
        sheet.append(spreadsheet.row([column.header, "必填" if column.required else "选填", _column_rule(column)]))
    sheet.append([])
    sheet.append(["示例（请勿在本页填写数据）"])
    sheet.cell(row=sheet.max_row, column=1).font = bold
    example = {**{c.field: next(iter(c.labels.values())) for c in columns if c.labels},
               "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
               "summary": "道路工程款逾期未付", "amount_owed": "128万", "county": "曾都区"}
    sheet.append(spreadsheet.row(column.header for column in columns))
    sheet.append(spreadsheet.row(example.get(column.field, "") for column in columns))
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 10
    sheet.column_dimensions["C"].width = 90


# --- reading a filled list -----------------------------------------------------------------

class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: int, column: str, field_name: str, value: Any, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append({"row": row, "column": column, "field": field_name, "value": _as_text(value),
                               "message": message})


def _file_error(message: str, row: int = 0, value: str = "") -> Preview:
    return Preview(rows=[], errors=[{"row": row, "column": "", "field": "", "value": value, "message": message}],
                   total=0, error_count=1)


def parse_problem_list(forms: FormRegistry, content: bytes) -> Preview:
    """Read a filled problem list; nothing is written. Every problem becomes a cell error."""
    columns = _columns(forms.get(FORM_KEY))
    refusal = _refuse_container(content)
    if refusal:
        return _file_error(refusal)
    try:
        workbook = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any reader failure means "not a workbook we can read"
        return _file_error(NOT_XLSX)
    try:
        sheet = workbook[SHEET_TITLE] if SHEET_TITLE in workbook.sheetnames else workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions; read every row there is
        return _parse_sheet(forms, columns, sheet.iter_rows(values_only=True))
    except Exception:  # noqa: BLE001 - a damaged part inside the zip
        return _file_error(NOT_XLSX)
    finally:
        workbook.close()


def _refuse_container(content: bytes) -> str | None:
    if not isinstance(content, (bytes, bytearray)) or not content:
        return "上传的文件为空"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return OLD_XLS
    if content[:4] != b"PK\x03\x04":
        return NOT_XLSX
    try:
        with zipfile.ZipFile(BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNCOMPRESSED_BYTES:
                return "文件解压后过大，无法导入"
    except (zipfile.BadZipFile, ValueError, OSError):
        return NOT_XLSX
    return None


def _parse_sheet(forms: FormRegistry, columns: list[_Column], rows: Iterable[tuple[Any, ...]]) -> Preview:
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None or all(_blank(v) for v in header):
        return _file_error("第 1 行应为表头（可下载模板填写）", row=1)
    positions, problem = _map_header(columns, header)
    if problem:
        return _file_error(problem[0], row=1, value=problem[1])
    by_field = {c.field: c for c in columns}
    errors = _Errors()
    preview = Preview(rows=[], errors=errors.items, total=0)
    for row_number, values in enumerate(iterator, start=2):
        cells = {name: values[i] if i < len(values) else None for name, i in positions.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        preview.total += 1
        if preview.total > MAX_ROWS:
            return _file_error(f"数据超过 {MAX_ROWS} 行，请拆分为多个文件分别导入")
        data, problems = {}, {}
        for name, raw in cells.items():
            value, message = _convert(by_field[name], raw)
            if message:
                problems[name] = message
            if value is not None:
                data[name] = value
        try:
            intake: dict[str, Any] | None = forms.validate(FORM_KEY, data)
        except ValidationFailed as failed:
            intake = None
            for name, message in failed.fields.items():
                name = name.split(".")[0]
                if name in by_field and message == "格式不正确" and by_field[name].ui.get("help"):
                    message = f"格式不正确：{by_field[name].ui['help']}"
                problems.setdefault(name, message)
        if not problems and intake is not None:
            preview.rows.append(intake)
            preview.row_numbers.append(row_number)
            continue
        for column in columns:  # report in column order
            if column.field in problems:
                errors.add(row_number, column.title, column.field, cells.get(column.field), problems.pop(column.field))
        for name, message in problems.items():  # a form-level message with no column
            errors.add(row_number, "", name, "", message)
    if preview.total == 0:
        return _file_error("问题清单中没有数据行", row=2)
    preview.error_count = errors.count
    preview.duplicates = _within_file(preview)
    return preview


# --- duplicates ----------------------------------------------------------------------------
# A row repeats a clue when enterprise and debtor match (spacing and full/half width aside):
# "exact" when the amount owed matches too (skipped unless the office keeps it), "similar"
# when only the amount differs (kept unless the office skips it) — a firm may well be owed
# two sums by one body. Registered clues count while open, i.e. in an OPEN_STAGES stage.
EXACT, SIMILAR = "exact", "similar"
SKIP, KEEP = "skip", "keep"
_IN_CHUNK = 500


def _pair(enterprise: Any, debtor: Any) -> tuple[str, str]:
    return _name_key(_as_text(enterprise)), _name_key(_as_text(debtor))


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _warning(preview: Preview, index: int) -> dict[str, Any]:
    intake = preview.rows[index]
    return {"row": preview.row_numbers[index], "kind": SIMILAR, "same_as_row": None, "clue_ids": [],
            "enterprise_name": intake["enterprise_name"], "debtor": intake["debtor"],
            "amount_owed": intake.get("amount_owed"), "default": KEEP}


def _within_file(preview: Preview) -> list[dict[str, Any]]:
    """Valid rows that repeat an earlier valid row of the same file."""
    by_pair: dict[tuple[str, str], list[int]] = {}
    found = []
    for index, intake in enumerate(preview.rows):
        pair = _pair(intake["enterprise_name"], intake["debtor"])
        earlier = by_pair.setdefault(pair, [])
        if earlier:
            amount = _amount(intake.get("amount_owed"))
            same = [i for i in earlier if _amount(preview.rows[i].get("amount_owed")) == amount]
            warning = _warning(preview, index)
            warning["same_as_row"] = preview.row_numbers[(same or earlier)[0]]
            if same:
                warning["kind"], warning["default"] = EXACT, SKIP
            found.append(warning)
        earlier.append(index)
    return found


def find_duplicates(ctx: Context, preview: Preview) -> list[dict[str, Any]]:
    """`preview.duplicates` (within the file) joined with the open clues each valid row repeats.

    Each warning: row, kind (exact | similar), same_as_row (an earlier row of the file or None),
    clue_ids (open clues), enterprise_name, debtor, amount_owed, default (skip | keep).
    """
    by_row = {w["row"]: dict(w) for w in preview.duplicates}
    wanted: dict[tuple[str, str], list[int]] = {}
    names: set[str] = set()
    for index, intake in enumerate(preview.rows):
        wanted.setdefault(_pair(intake["enterprise_name"], intake["debtor"]), []).append(index)
        names.update({intake["enterprise_name"].strip(), unicodedata.normalize("NFKC", intake["enterprise_name"]).strip()})
    ordered = sorted(names)
    for start in range(0, len(ordered), _IN_CHUNK):
        rows = ctx.session.execute(select(Clue.id, Clue.enterprise_name, Clue.debtor, Clue.amount_owed).where(
            Clue.enterprise_name.in_(ordered[start:start + _IN_CHUNK]), Clue.stage.in_(clues.OPEN_STAGES))
            .order_by(Clue.id))
        for clue_id, enterprise, debtor, owed in rows:
            for index in wanted.get(_pair(enterprise, debtor), ()):
                row = preview.row_numbers[index]
                warning = by_row.setdefault(row, _warning(preview, index))
                warning["clue_ids"].append(clue_id)
                if _amount(owed) == _amount(preview.rows[index].get("amount_owed")):
                    warning["kind"], warning["default"] = EXACT, SKIP
    return [by_row[row] for row in sorted(by_row)]


def _map_header(columns: list[_Column], header: tuple[Any, ...]) -> tuple[dict[str, int], tuple[str, str] | None]:
    known: dict[str, str] = {}
    for column in columns:
        known[_header_key(column.title)] = column.field
        known[_header_key(column.field)] = column.field
    positions: dict[str, int] = {}
    unknown, repeated = [], []
    for index, cell in enumerate(header):
        if _blank(cell):
            continue
        title = str(cell).strip()
        name = known.get(_header_key(title))
        if name is None:
            unknown.append(title)
        elif name in positions:
            repeated.append(title)
        else:
            positions[name] = index
    missing = [c.header for c in columns if c.required and c.field not in positions]
    parts = []
    if unknown:
        parts.append("无法识别的列：" + "、".join(f"“{t}”" for t in unknown))
    if repeated:
        parts.append("重复的列：" + "、".join(f"“{t}”" for t in repeated))
    if missing:
        parts.append("缺少必填列：" + "、".join(f"“{t}”" for t in missing))
    if parts:
        return positions, ("表头有误，" + "；".join(parts) + "（请使用模板的表头）", "、".join(unknown + repeated))
    return positions, None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return str(value)


def _convert(column: _Column, raw: Any) -> tuple[Any, str | None]:
    """A cell as the form expects it, or (raw value, Chinese reason) when it cannot be."""
    if _blank(raw):
        return None, None
    kind = column.schema.get("type")
    if column.labels:
        return _choice(column, raw)
    if kind in ("number", "integer") or column.schema.get("x-money"):
        return _number(raw, integer=kind == "integer")
    if kind == "string":
        if isinstance(raw, bool):
            return ("是" if raw else "否"), None
        if isinstance(raw, (int, float)):
            if abs(raw) >= _EXCEL_DIGITS_LIMIT:
                return _as_text(raw), "数字超过 15 位已被 Excel 截断，请将该列设为文本格式后重新填写"
            return _as_text(raw), None
        if isinstance(raw, (date, datetime)):
            return _as_text(raw), None
        return str(raw), None
    return raw, None


def _choice(column: _Column, raw: Any) -> tuple[Any, str | None]:
    text = str(raw).strip()
    key = _name_key(text)
    for code, label in column.labels.items():
        if key in (_name_key(label), code.lower()):
            return code, None
    return text, f"应为以下之一：{'、'.join(column.labels.values())}"


def _number(raw: Any, integer: bool = False) -> tuple[Any, str | None]:
    bad = "应为数字，如 1280000、1,280,000 或 128万"
    if isinstance(raw, bool):
        return raw, bad
    if isinstance(raw, (int, float, Decimal)):
        amount = Decimal(str(raw))
    else:
        text = unicodedata.normalize("NFKC", str(raw))
        text = re.sub(r"[\s,，]", "", text).lstrip("¥￥")
        if text.endswith("元"):
            text = text[:-1]
        factor = Decimal(1)
        if text[-1:] in _UNITS:
            factor, text = _UNITS[text[-1]], text[:-1]
        if not _NUMBER.match(text):
            return str(raw), bad
        try:
            amount = Decimal(text) * factor
        except InvalidOperation:
            return str(raw), bad
    if not amount.is_finite():
        return _as_text(raw), bad
    if amount == amount.to_integral_value():
        return int(amount), None
    if integer:
        return _as_text(raw), "应为整数"
    return amount, None  # exact: the form's money check refuses a third decimal


# --- importing -----------------------------------------------------------------------------

def preview_problem_list(ctx: Context, username: str, content: bytes) -> Preview:
    """What importing `content` would do: its cell errors, or its rows with the duplicates the
    office must decide on (`find_duplicates`). Nothing is written.

    :raises Forbidden: only the office imports clues.
    """
    access.require_role(access.get_user(ctx.session, username), Role.office)
    preview = parse_problem_list(ctx.runtime.forms, content)
    if preview.ok:
        preview.duplicates = find_duplicates(ctx, preview)
    return preview


def import_problem_list(ctx: Context, username: str, content: bytes,
                        progress: Callable[[int, int], None] | None = None,
                        decisions: dict[int, str] | None = None) -> dict[str, Any]:
    """Turn every row of a problem list into a clue, in the caller's transaction.

    All or none: a list with any error raises before anything is written, and a failure while
    creating clues propagates so that the caller's transaction rolls back the ones made so far.
    Duplicates are found again here (clues may have been registered since the preview); each
    flagged row is skipped or kept as `decisions` (Excel row number → "skip" | "keep") says,
    else by its default — so importing the same file twice imports nothing the second time.
    `progress(done, total)` is called every PROGRESS_EVERY rows and once at the end.

    :raises Forbidden: only the office imports clues. :raises ProblemListInvalid: the list has
        errors (`.preview.errors` names each cell).
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, Role.office)
    preview = parse_problem_list(ctx.runtime.forms, content)
    if not preview.ok:
        raise ProblemListInvalid(preview)
    flagged = {w["row"]: w for w in find_duplicates(ctx, preview)}
    decisions = decisions or {}
    create = getattr(clues, "create_clue", None) or clues._create  # type: ignore[attr-defined]
    total = len(preview.rows)
    clue_ids: list[int] = []
    skipped: list[dict[str, Any]] = []
    for done, (row, intake) in enumerate(zip(preview.row_numbers, preview.rows), start=1):
        warning = flagged.get(row)
        if warning is not None and decisions.get(row, warning["default"]) == SKIP:
            skipped.append(warning)
        else:
            clue_ids.append(create(ctx, intake, user.username, user.role.value).id)
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total)
    return {"imported": len(clue_ids), "clue_ids": clue_ids, "skipped": skipped}
