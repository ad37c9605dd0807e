"""Static checks of the form definitions in forms/*.json."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Iterator

import jsonschema
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORMS_DIR = ROOT / "forms"
FORM_FILES = sorted(FORMS_DIR.glob("*.json"))
WIDGETS = {"radio", "select", "checkbox", "textarea", "text", "date", "number", "table"}

EXPECTED_KEYS = {
    "intake", "triage", "assign", "rectification_plan", "report", "review", "chase",
    "spot_check", "referral", "sendback_escalation", "contacts", "self_inspection",
    "summary_report", "reminder",
}


from engine import uscc


def _format_checker() -> jsonschema.FormatChecker:
    fc = jsonschema.FormatChecker()

    @fc.checks("uscc")
    def _check_uscc(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        return uscc.is_valid_uscc(instance)

    return fc


def _load(path: pathlib.Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _form(key: str) -> dict[str, Any]:
    return _load(FORMS_DIR / f"{key}.json")


def _validator(key: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_form(key)["schema"], format_checker=_format_checker())


def _properties(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (dotted name, subschema) for every property, nested array items included."""
    for name, sub in schema.get("properties", {}).items():
        yield prefix + name, sub
        items = sub.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            yield from _properties(items, prefix + name + "[].")


def _ui_field(ui: dict[str, Any], dotted: str) -> dict[str, Any]:
    if "[]." in dotted:
        parent, child = dotted.split("[].", 1)
        return ui["fields"].get(parent, {}).get("columns", {}).get(child, {})
    return ui["fields"].get(dotted, {})


def test_all_expected_forms_exist() -> None:
    assert EXPECTED_KEYS <= {p.stem for p in FORM_FILES}


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.stem)
def test_form_file_structure(path: pathlib.Path) -> None:
    form = _load(path)
    assert form["key"] == path.stem
    assert isinstance(form["title"], str) and not form["title"].isascii()
    if "description" in form:
        assert isinstance(form["description"], str)

    schema = form["schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema.get("additionalProperties") is False
    assert set(schema.get("required", [])) <= set(schema["properties"])

    ui = form["ui"]
    assert ui["order"] == list(dict.fromkeys(ui["order"])), "duplicates in ui.order"
    assert set(ui["order"]) == set(schema["properties"])
    assert set(ui["fields"]) <= set(schema["properties"])

    for name, sub in _properties(schema):
        title = sub.get("title")
        assert isinstance(title, str) and title and not title.isascii(), f"{name}: no Chinese title"
        field_ui = _ui_field(ui, name)
        if "widget" in field_ui:
            assert field_ui["widget"] in WIDGETS, f"{name}: unknown widget"
        if "enum" in sub:
            labels = field_ui.get("enum_labels", {})
            missing = [v for v in sub["enum"] if str(v) not in labels]
            assert not missing, f"{name}: enum_labels missing {missing}"
        if sub.get("type") == "string" and "enum" not in sub and "format" not in sub:
            assert "maxLength" in sub, f"{name}: text field without maxLength"
        if sub.get("type") == "array":
            assert "maxItems" in sub, f"{name}: array without maxItems"
            assert field_ui.get("widget") == "table", f"{name}: array should use the table widget"


def test_form_files_are_valid_json_with_utf8() -> None:
    for path in FORM_FILES:
        json.loads(path.read_bytes().decode("utf-8"))


# --- validation behaviour -------------------------------------------------

VALID_EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "intake": [
        {"source": "letters_visits", "enterprise_name": "随州市某某机械有限公司",
         "debtor": "某某镇人民政府", "summary": "工程款逾期未付", "amount_owed": 120000.5,
         "uscc": "91350100M000100Y43", "complainant_name": "张三",
         "complainant_phone": "13800138000", "county": "曾都区"},
        {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局", "summary": "政策未兑现"},
    ],
    "triage": [
        {"accepted": True, "category": "arrears_public", "level": "city", "key_problem": True},
        {"accepted": False, "reject_reason": "不属于专项行动范围"},
    ],
    "assign": [{"responsible_unit": "zengdu_district", "deadline": "2023-11-30", "instructions": "限期办结"}],
    "rectification_plan": [
        {"measures": "分期支付欠款", "plan_deadline": "2023-11-30", "responsible_leader": "李四 副局长",
         "responsible_person": "王五 科长", "contact_phone": "0722-3251234"},
    ],
    "report": [{"amount_paid": 0, "feedback": "已全部支付", "completed_on": "2023-11-20"}],
    "review": [
        {"approved": True},
        {"approved": False, "opinion": "佐证材料不全", "new_deadline": "2023-12-10"},
    ],
    "chase": [{"contacted": True, "note": "电话催办，承诺本周办结"}],
    "spot_check": [{"result": "genuine", "misconduct": False, "findings": "已核实付款", "checked_on": "2023-12-05"}],
    "referral": [{"received": True, "case_number": "SZJW-2023-001"}],
    "sendback_escalation": [{"decision": "refer", "note": "三次退回仍未整改到位"}],
    "contacts": [
        {"leader_name": "赵六", "leader_title": "副区长", "contact_name": "钱七", "contact_phone": "13912345678",
         "members": [{"name": "孙八", "title": "科员", "phone": "0722-1234567"}]},
    ],
    "self_inspection": [
        {"none_found": True},
        {"none_found": False, "problems": [
            {"enterprise_name": "某公司", "debtor": "某局", "summary": "货款未付", "amount_owed": 5000,
             "category": "arrears_public", "uscc": "91110000600037341L"},
        ]},
    ],
    "summary_report": [{"summary": "全面完成专项行动任务"}],
    "reminder": [{"note": "请于三日内报送整改方案"}],
}


def test_every_form_has_a_valid_example() -> None:
    assert set(VALID_EXAMPLES) == {p.stem for p in FORM_FILES}


@pytest.mark.parametrize(
    ("key", "instance"),
    [(k, inst) for k, insts in VALID_EXAMPLES.items() for inst in insts],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_valid_examples_pass(key: str, instance: dict[str, Any]) -> None:
    errors = [e.message for e in _validator(key).iter_errors(instance)]
    assert errors == []


INVALID_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("triage", {"accepted": False}),
    ("triage", {"accepted": False, "reject_reason": "无"}),
    ("triage", {"accepted": True, "category": "arrears_public"}),
    ("triage", {"accepted": True, "category": "other", "level": "city"}),
    ("intake", {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局", "summary": "欠款",
                "uscc": "91350100M000100Y44"}),
    ("intake", {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局", "summary": "欠款",
                "amount_owed": -1}),
    ("intake", {"source": "phone", "enterprise_name": "某公司", "debtor": "某局", "summary": "欠款"}),
    ("intake", {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局"}),
    ("intake", {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局", "summary": "欠款",
                "extra": 1}),
    ("assign", {"responsible_unit": "Zengdu", "deadline": "2023-11-30"}),
    ("assign", {"responsible_unit": "zengdu", "deadline": "2023-13-45"}),
    ("rectification_plan", {"measures": "分期支付", "plan_deadline": "2023-11-30", "responsible_leader": "李四",
                            "responsible_person": "王五", "contact_phone": "12345"}),
    ("review", {"approved": False}),
    ("spot_check", {"result": "ok", "misconduct": False, "findings": "已核实", "checked_on": "2023-12-05"}),
    ("self_inspection", {"none_found": False}),
    ("self_inspection", {"none_found": False, "problems": []}),
    ("self_inspection", {"none_found": False, "problems": [
        {"enterprise_name": "某公司", "debtor": "某局", "summary": "货款未付", "uscc": "91110000600037341A"}]}),
    ("self_inspection", {"none_found": False, "problems": [{"enterprise_name": "某公司", "debtor": "某局"}]}),
    ("self_inspection", {"none_found": True, "problems": [
        {"enterprise_name": "某公司", "debtor": "某局", "summary": "货款未付"}]}),
    ("sendback_escalation", {"decision": "refer"}),
]


@pytest.mark.parametrize(("key", "instance"), INVALID_EXAMPLES, ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_examples_fail(key: str, instance: dict[str, Any]) -> None:
    assert not _validator(key).is_valid(instance)


def test_triage_reject_without_reason_names_the_field() -> None:
    errors = list(_validator("triage").iter_errors({"accepted": False}))
    assert any("reject_reason" in e.message for e in errors)


def test_intake_bad_uscc_fails_on_format() -> None:
    instance = {"source": "leadership", "enterprise_name": "某公司", "debtor": "某局", "summary": "欠款",
                "uscc": "91350100M000100Y44"}
    errors = list(_validator("intake").iter_errors(instance))
    assert [e.validator for e in errors] == ["format"]
    assert list(errors[0].path) == ["uscc"]
