"""Form definitions (forms/*.json): the same file renders the form and validates submissions."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from decimal import Decimal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from . import money
from .errors import NotFound, ValidationFailed
from .uscc import is_valid_uscc, normalize_uscc, uscc_problem
from .workdays import resolve_working_day_fields

FORMAT_CHECKER = FormatChecker()
FORMAT_CHECKER.checks("uscc")(is_valid_uscc)

_MESSAGES = {
    "required": "必填",
    "type": "格式不正确",
    "enum": "不在可选范围内",
    "const": "取值不正确",
    "minLength": "内容过短",
    "maxLength": "内容过长",
    "minimum": "不能小于 {limit}",
    "maximum": "不能大于 {limit}",
    "pattern": "格式不正确",
    "minItems": "至少填写 {limit} 项",
    "maxItems": "最多 {limit} 项",
    "additionalProperties": "包含未定义的字段",
}


# Every widget webui/templates/_form.html renders; a form naming another is refused at load,
# and tests/integration/test_form_widgets.py renders each of these.
WIDGETS = frozenset({"text", "textarea", "number", "date", "select", "radio", "checkbox", "table"})
OPTION_SOURCES = frozenset({"units", "groups", "users"})  # engine.form_options


def check_ui(key: str, ui: dict[str, Any]) -> None:
    """:raises ValueError: the form names a widget or option list the renderer does not have."""
    for name, hints in ui.get("fields", {}).items():
        for field, field_hints in [(name, hints), *((f"{name}.{c}", h) for c, h in hints.get("columns", {}).items())]:
            widget = field_hints.get("widget")
            if widget is not None and widget not in WIDGETS:
                raise ValueError(f"form {key}: field {field} names widget {widget!r}, not one of {sorted(WIDGETS)}")
            source = field_hints.get("options")
            if source is not None and source not in OPTION_SOURCES:
                raise ValueError(f"form {key}: field {field} takes options from {source!r}, "
                                 f"not one of {sorted(OPTION_SOURCES)}")


@dataclass(frozen=True)
class FormDefinition:
    key: str
    title: str
    schema: dict[str, Any]
    ui: dict[str, Any]
    validator: Draft202012Validator

    @property
    def fields(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "schema": self.schema, "ui": self.ui}


class FormRegistry:
    def __init__(self, forms_dir: Path) -> None:
        self._forms: dict[str, FormDefinition] = {}
        for path in sorted(forms_dir.glob("*.json")):
            raw = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(raw["schema"])
            check_ui(path.stem, raw.get("ui", {}))
            self._forms[path.stem] = FormDefinition(
                key=path.stem, title=raw.get("title", path.stem), schema=raw["schema"], ui=raw.get("ui", {}),
                validator=Draft202012Validator(raw["schema"], format_checker=FORMAT_CHECKER),
            )

    def keys(self) -> set[str]:
        return set(self._forms)

    def get(self, key: str) -> FormDefinition:
        """:raises NotFound: for an unknown form key."""
        try:
            return self._forms[key]
        except KeyError:
            raise NotFound(f"form {key!r} does not exist") from None

    def validate(self, key: str, data: Any, today: date | None = None) -> dict[str, Any]:
        """Clean and check a submission; returns every field of the form (absent ones as None).

        With `today` (Asia/Shanghai), a date given as a number of working days (a property with
        `x-workdays-for`, engine.workdays) is turned into that date first.

        :raises ValidationFailed: with a message per field; the caller then changes nothing.
        """
        form = self.get(key)
        if not isinstance(data, dict):
            raise ValidationFailed("表单数据应为 JSON 对象", {"": "表单数据应为 JSON 对象"})
        cleaned = _clean(data)
        if today is not None:
            cleaned = resolve_working_day_fields(form.schema, cleaned, today)
        errors = _money_fields(form.schema, cleaned)
        cleaned = _without_decimals(cleaned)
        for error in sorted(form.validator.iter_errors(cleaned), key=lambda e: list(e.absolute_path)):
            errors.setdefault(_field_of(error), _message(error))
        if errors:
            raise ValidationFailed("表单校验未通过：" + "；".join(f"{k} {v}" for k, v in errors.items()), errors)
        return {name: cleaned.get(name) for name in form.fields}


def _money_fields(schema: dict[str, Any], cleaned: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Amounts (`"x-money": true`) become canonical strings in place; returns a message per bad one.

    A bad amount is dropped from `cleaned`, so the schema does not add a second message for it.
    """
    errors: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = cleaned.get(name)
        if value is None:
            continue
        if prop.get("x-money"):
            try:
                cleaned[name] = money.canonical(money.parse(value))
            except money.AmountInvalid as exc:
                errors[f"{prefix}{name}"] = str(exc)
                del cleaned[name]
        elif prop.get("type") == "array" and isinstance(value, list):
            for i, row in enumerate(value):
                if isinstance(row, dict):
                    errors.update(_money_fields(prop.get("items") or {}, row, f"{prefix}{name}.{i}."))
    return errors


def _without_decimals(value: Any) -> Any:
    # Exact JSON (money.loads_exact) reads every fraction as Decimal; amounts are strings by now,
    # any other number is not money, and task data cannot hold a Decimal.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _without_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_decimals(v) for v in value]
    return value


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    # Browsers send "" for an empty optional field; absent and empty mean the same here.
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
            if name == "uscc":
                value = normalize_uscc(value)
        elif isinstance(value, list):
            value = [_clean(v) if isinstance(v, dict) else v for v in value]
        elif value is None:
            continue
        cleaned[name] = value
    return cleaned


def _field_of(error: ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return f"{path}.{missing}" if path else missing
    return path


def _message(error: ValidationError) -> str:
    if error.validator == "format":
        if error.validator_value == "uscc":
            return uscc_problem(str(error.instance)) or "统一社会信用代码校验未通过"
        return "日期格式应为 YYYY-MM-DD" if error.validator_value == "date" else "格式不正确"
    template = _MESSAGES.get(str(error.validator), "不符合要求")
    return template.format(limit=error.validator_value)
