"""Exports as real spreadsheets: times as date cells in Beijing time, money with thousands and
two decimals, a frozen bold header and columns wide enough to read (openpyxl, write-only, so an
export of 100,000 rows streams).

Every cell goes through `cell`: openpyxl stores any string that starts with `=` as a formula,
and spreadsheet programs also evaluate text starting with `+ - @` (and tab or CR) — so a clue's
`enterprise_name` could become a live `=HYPERLINK(...)` or DDE call in the reader's Excel. As
OWASP's CSV-injection advice says, such text gets a leading `'` and stays text; numbers and
dates keep their types. Characters XML cannot hold (control characters typed into a clue) are
dropped instead of failing the whole export.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from .clock import SHANGHAI

DATETIME_FORMAT, DATE_FORMAT, MONEY_FORMAT = "yyyy-mm-dd hh:mm", "yyyy-mm-dd", "#,##0.00"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


def width_of(title: str) -> float:
    """A column about as wide as its Chinese title, at least 10 characters."""
    return max(10.0, 2.2 * len(title) + 2)


def safe_text(value: str) -> str:
    """Text that no spreadsheet program evaluates."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def row(values: Iterable[Any]) -> list[Any]:
    """Values for a normal (not write-only) sheet: text made safe, the rest as typed."""
    return [safe_text(v) if isinstance(v, str) else v for v in values]


def cell(sheet: WriteOnlyWorksheet, value: Any, money: bool = False) -> Any:
    """A value as a typed cell. Excel has no time zones: an aware moment is written as the wall
    time in Beijing, which is what every page shows."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value.astimezone(SHANGHAI).replace(tzinfo=None) if value.tzinfo else value
        written = WriteOnlyCell(sheet, value=moment)
        written.number_format = DATETIME_FORMAT
        return written
    if isinstance(value, date):
        written = WriteOnlyCell(sheet, value=value)
        written.number_format = DATE_FORMAT
        return written
    if money and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        written = WriteOnlyCell(sheet, value=Decimal(str(value)))
        written.number_format = MONEY_FORMAT
        return written
    if isinstance(value, str):
        return safe_text(value)
    return value


class Sheet:
    """One sheet of a write-only book: header first, then rows of plain values."""

    def __init__(self, book: Workbook, title: str, headers: Sequence[str], widths: Sequence[float] | None = None,
                 money_columns: Iterable[int] = ()) -> None:
        self.sheet = book.create_sheet(title)
        self.money = set(money_columns)
        # Write-only sheets take widths and panes before the first row.
        for index, header in enumerate(headers, start=1):
            width = widths[index - 1] if widths else width_of(header)
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = "A2"
        header_cells = []
        for header in headers:
            written = WriteOnlyCell(self.sheet, value=header)
            written.font = _BOLD
            written.alignment = _WRAP
            header_cells.append(written)
        self.sheet.append(header_cells)

    def append(self, values: Sequence[Any]) -> None:
        self.sheet.append([cell(self.sheet, v, i in self.money) for i, v in enumerate(values)])


def new_book() -> Workbook:
    return Workbook(write_only=True)


def save(book: Workbook) -> bytes:
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
