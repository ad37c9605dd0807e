"""Money: exact decimals in 元 to the fen, from every way an amount comes in to every way it goes out.

Inside the engine an amount is a `Decimal` with two places; in a workflow's task data it is the
canonical string ("1280000.00"), because SpiffWorkflow's serializer refuses `Decimal` and a float
would lose fen; the clue columns are `Numeric(16, 2)`. JSON answers carry amounts as strings.
"""
from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable

FEN = Decimal("0.01")
#: Numeric(16, 2) holds less than 10^14; a single debt above a trillion 元 is a typing error.
MAX_AMOUNT = Decimal("999999999999.99")
#: Digits with optional thousands separators, at most two decimals; no sign, no exponent.
_TEXT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$")


class AmountInvalid(ValueError):
    """`str(exc)` is the Chinese message shown beside the field."""


def parse(value: Any) -> Decimal:
    """An amount as given by a form, a JSON body, a spreadsheet cell or a caller; never rounded.

    :raises AmountInvalid: not a plain non-negative number with at most two decimals, or above
        MAX_AMOUNT (exponent notation, NaN and Infinity included).
    """
    if isinstance(value, bool):
        raise AmountInvalid("应为金额数字，如 1280000 或 1280000.50")
    if isinstance(value, str):
        text = value.strip().replace("，", ",")
        if not _TEXT.match(text):
            raise AmountInvalid(_text_problem(text))
        amount = Decimal(text.replace(",", ""))
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, (float, Decimal)):
        # A float's repr is the shortest text that reads back as it: what the caller typed,
        # when that had at most 15 digits. Exponent notation never reaches here as Decimal
        # (loads_exact keeps it text), and 128万 from a spreadsheet is 1280000 whatever its scale.
        amount = Decimal(repr(value)) if isinstance(value, float) else value
        if not amount.is_finite():
            raise AmountInvalid("应为金额数字，不接受 NaN 或 Infinity")
    else:
        raise AmountInvalid("应为金额数字，如 1280000 或 1280000.50")
    if amount < 0:
        raise AmountInvalid("金额不能为负数")
    if amount > MAX_AMOUNT:
        raise AmountInvalid(f"金额过大，不能超过 {MAX_AMOUNT:,} 元，请核对单位（元）")
    if amount != amount.quantize(FEN):
        raise AmountInvalid("金额最多保留两位小数（到分）")
    return amount.quantize(FEN)


def _text_problem(text: str) -> str:
    if re.fullmatch(r"[-+]?\d*\.?\d+[eE][-+]?\d+", text):
        return "不接受科学计数法，请填写完整金额，如 1000 或 1000.00"
    if text.startswith("-"):
        return "金额不能为负数"
    if re.fullmatch(r"[\d,]*\.\d{3,}", text):
        return "金额最多保留两位小数（到分）"
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return "应为金额数字，不接受 NaN 或 Infinity"
    return "应为金额数字，如 1280000 或 1280000.50"


def canonical(amount: Decimal) -> str:
    """The form kept in task data and sent in JSON: plain digits, two decimals."""
    return f"{amount.quantize(FEN):f}"


def of(value: Any) -> Decimal | None:
    """An amount already stored (a column, task data, an old float in a history event), as Decimal."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value) if isinstance(value, float) else str(value))


def total(values: Iterable[Any]) -> Decimal:
    """An exact sum; None counts as nothing."""
    return sum((of(v) or Decimal(0) for v in values), Decimal("0.00")).quantize(FEN)


def as_json(value: Any) -> str | None:
    """An amount as a JSON answer carries it: the canonical string, or null."""
    amount = of(value)
    return None if amount is None else canonical(amount)


def wan(yuan: Any) -> Decimal:
    """Yuan in 万元, rounded half up to two places as government reports print them."""
    return ((of(yuan) or Decimal(0)) / 10000).quantize(FEN, rounding=ROUND_HALF_UP)


def loads_exact(text: str | bytes) -> Any:
    """JSON for requests that carry amounts: decimals stay exact, and exponent notation, NaN and
    Infinity stay text, so the form refuses them with a field message instead of guessing."""
    def number(literal: str) -> Any:
        return literal if "e" in literal.lower() else Decimal(literal)

    return json.loads(text, parse_float=number, parse_constant=lambda literal: literal)
