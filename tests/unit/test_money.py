"""Money is exact (issue 11, defect 6): amounts are refused unless they are plain decimals in 元 to
the fen below the ceiling, they go into the workflow as canonical strings, and every sum — stats,
ledger, the dispatch notice — is exact. Once a 20-digit amount was stored as 1e20 and the notice
printed 10,000,000,000,003,176.00 万元."""
from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

import docx
import pytest

from engine import Engine, ValidationFailed, dispatch_notice, money, stats
from engine.instances import load_instance
from engine.ledger import LedgerQuery, list_clues
from engine.serializer import dump_workflow

from ..factories import INTAKE, ClueDriver

TOO_BIG = "99999999999999999999"


@pytest.mark.parametrize("given, reason", [
    (TOO_BIG, "金额过大"), (int(TOO_BIG), "金额过大"), (1e20, "金额过大"), ("1000000000000", "金额过大"),
    ("1e3", "科学计数法"), ("1E3", "科学计数法"), ("12.345", "两位小数"), (12.345, "两位小数"),
    (Decimal("12.345"), "两位小数"), ("-1", "负数"), (-0.5, "负数"), ("NaN", "NaN"), (float("nan"), "NaN"),
    (float("inf"), "NaN"), (Decimal("Infinity"), "NaN"), ("Infinity", "NaN"), (True, "应为金额"), ("12元", "应为金额"),
])
def test_implausible_or_inexact_amounts_are_refused(given: Any, reason: str) -> None:
    with pytest.raises(money.AmountInvalid, match=reason):
        money.parse(given)


@pytest.mark.parametrize("given, amount", [
    ("1280000", "1280000.00"), ("1,280,000.5", "1280000.50"), (1280000, "1280000.00"), (0.1, "0.10"),
    (Decimal("0.10"), "0.10"), ("999999999999.99", "999999999999.99"), ("0", "0.00"),
])
def test_plain_amounts_are_exact(given: Any, amount: str) -> None:
    assert money.canonical(money.parse(given)) == amount


def test_exact_json_keeps_exponents_and_constants_as_text() -> None:
    body = money.loads_exact('{"a": 1e3, "b": 12.345, "c": NaN, "d": 0.10, "e": 99999999999999999999, "f": 3}')
    assert body == {"a": "1e3", "b": Decimal("12.345"), "c": "NaN", "d": Decimal("0.10"), "e": int(TOO_BIG), "f": 3}


@pytest.mark.parametrize("given, reason", [(TOO_BIG, "金额过大"), (int(TOO_BIG), "金额过大"), ("1e3", "科学计数法"),
                                           ("12.345", "两位小数"), (12.345, "两位小数")])
def test_the_intake_form_refuses_them_by_field(engine: Engine, given: Any, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        engine.add_clue("office", {**INTAKE, "amount_owed": given})
    assert list(refused.value.fields) == ["amount_owed"] and reason in refused.value.fields["amount_owed"]
    assert engine.run(list_clues, "office", LedgerQuery())["total"] == 0


def test_the_self_inspection_rows_refuse_them_too(engine: Engine) -> None:
    row = {"enterprise_name": "某公司", "debtor": "某局", "summary": "货款未付", "amount_owed": TOO_BIG}
    with pytest.raises(ValidationFailed) as refused:
        engine.runtime.forms.validate("self_inspection", {"none_found": False, "problems": [row]})
    assert "金额过大" in refused.value.fields["problems.0.amount_owed"]


def test_the_workflow_holds_the_canonical_string_and_the_row_the_decimal(engine: Engine) -> None:
    clue = ClueDriver(engine, amount_owed="1,280,000.5")
    clue.triage()
    assert clue.show()["amount_owed"] == Decimal("1280000.50")
    with engine.transaction() as ctx:
        _, workflow = load_instance(ctx, clue.instance_id)
        # SpiffWorkflow's serializer refuses Decimal; a float would lose fen.
        assert '"amount_owed": "1280000.50"' in dump_workflow(workflow)


def two_clues(engine: Engine) -> None:
    """Owed 10149.90 and 0.10, paid 0.10 and 0.20: in floats 0.1 + 0.2 is 0.30000000000000004."""
    for owed, paid in (("10149.90", "0.10"), ("0.10", "0.20")):
        clue = ClueDriver(engine, amount_owed=owed)
        clue.triage()
        clue.assign()
        clue.plan()
        clue.report(paid=paid)


def test_stats_and_ledger_sums_are_exact(engine: Engine) -> None:
    two_clues(engine)
    view = engine.run(stats.overview, "office")
    assert (view["owed"], view["paid"]) == (Decimal("10150.00"), Decimal("0.30"))
    by_category = engine.run(stats.figures, "office", "category")
    assert [(f["owed"], f["paid"]) for f in by_category] == [(Decimal("10150.00"), Decimal("0.30"))]
    rows = engine.run(list_clues, "office", LedgerQuery())["items"]
    assert sum(r["amount_paid"] for r in rows) == Decimal("0.30")
    assert {type(r["amount_owed"]) for r in rows} == {Decimal}


def test_the_dispatch_notice_prints_exact_wan(engine: Engine) -> None:
    two_clues(engine)
    content, _ = engine.run(dispatch_notice.dispatch_notice, "office", {"start": "2023-10-17", "end": "2023-10-17"})
    text = "\n".join(p.text for p in docx.Document(BytesIO(content)).paragraphs)
    # 10150.00 元 is 1.015 万元, which a float holds as 1.01499… and printed 1.01.
    assert "涉及拖欠账款1.02万元，已支付0.00万元" in text

