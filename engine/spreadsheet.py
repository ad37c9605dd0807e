"""Cell values for every workbook the engine writes (ledger, credit records, problem-list template).

openpyxl stores any string that starts with `=` as a formula, and spreadsheet programs also
evaluate text starting with `+ - @` (and tab or CR before one of them) — so a clue's
`enterprise_name` could become a live `=HYPERLINK(...)` or DDE call in the reader's Excel. As
OWASP's CSV-injection advice says, such text gets a leading `'` and stays text; numbers and
dates keep their types, so sums and sorting still work. Characters XML cannot hold (control
characters typed into a clue) are dropped instead of failing the whole export.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` as safe to write: text is neutralised, everything else is left as typed."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(value) for value in values]
