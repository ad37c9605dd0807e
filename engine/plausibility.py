"""Plausibility of a submission: refuse what cannot be true, ask to confirm what is merely unusual.

A form's schema declares the checks on its properties (forms/*.json), so a designer adding a
form adds its checks with it:

- ``"x-not-after": "today"`` — a date that cannot lie in the future (a completion or spot-check
  date): refused.
- ``"x-confirm-not-before": "today"`` — a deadline already past: possible when entered late,
  more often a mistyped year; the submitter confirms.
- ``"x-confirm-not-after": "<variable>"`` — a date later than a process variable (a plan deadline
  after the assignment deadline); the submitter confirms.
- ``"x-confirm-not-above": "<variable>"`` — an amount above a process variable (more paid than
  owed); the submitter confirms.

"Today" is the caller's, from the injected clock in Asia/Shanghai.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from . import money
from .errors import ConfirmationRequired, ValidationFailed

#: How a process variable a check compares with is named in the message.
VARIABLE_LABELS = {"deadline": "交办的整改期限", "amount_owed": "拖欠金额"}


def check(schema: dict[str, Any], cleaned: Mapping[str, Any], today: date,
          variables: Mapping[str, Any] | None = None, confirmed: bool = False) -> None:
    """:raises ValidationFailed: a value that cannot be true. :raises ConfirmationRequired: unusual
    values, unless `confirmed`."""
    variables = variables or {}
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = cleaned.get(name)
        if value is None:
            continue
        if prop.get("x-not-after") == "today":
            day = _day(value)
            if day is not None and day > today:
                errors[name] = f"不能晚于今天（{today.isoformat()}）"
                continue
        if prop.get("x-confirm-not-before") == "today":
            day = _day(value)
            if day is not None and day < today:
                warnings[name] = f"{day.isoformat()} 早于今天（{today.isoformat()}）{_years_ago(day, today)}，请核实"
        other = prop.get("x-confirm-not-after")
        if other:
            day, limit = _day(value), _day(variables.get(other))
            if day is not None and limit is not None and day > limit:
                warnings.setdefault(name, f"晚于{_label(other)}（{limit.isoformat()}），请核实")
        other = prop.get("x-confirm-not-above")
        if other:
            amount, limit = _amount(value), _amount(variables.get(other))
            if amount is not None and limit is not None and amount > limit:
                warnings.setdefault(name, f"超过{_label(other)}（{limit:,} 元），请核实")
    if errors:
        raise ValidationFailed("表单校验未通过：" + "；".join(f"{k} {v}" for k, v in errors.items()), errors)
    if warnings and not confirmed:
        raise ConfirmationRequired("以下内容与常理不符，请核实后确认提交：" + "；".join(
            f"{k} {v}" for k, v in warnings.items()), warnings)


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _amount(value: Any) -> Any:
    try:
        return money.of(value)
    except (ArithmeticError, ValueError):
        return None


def _label(variable: str) -> str:
    return VARIABLE_LABELS.get(variable, variable)


def _years_ago(day: date, today: date) -> str:
    years = (today - day).days // 365
    return f"已过去 {years} 年多" if years >= 1 else ""
