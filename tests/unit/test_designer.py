"""engine/designer.py: definitions with instance counts, the element-level diff, validate and
deploy of an edited file (a new version; running instances stay on theirs), roles, form drafts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import event

from engine import Engine, Forbidden, ValidationFailed
from engine import designer
from engine.errors import DefinitionRejected

from ..factories import ClueDriver

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
CLUE_BPMN = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8")
GOOD_CONDITION = '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">accepted == True</bpmn:conditionExpression>'
NEW_TASK = """<bpmn:userTask id="Task_extra" name="补充核实">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formKey" value="chase" /></spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:startEvent id="Start_collected\""""


def with_condition(text: str) -> str:
    assert GOOD_CONDITION in CLUE_BPMN
    return CLUE_BPMN.replace(GOOD_CONDITION, GOOD_CONDITION.replace("accepted == True", text))


# --- the diff, on the XML alone -----------------------------------------------------------
def test_diff_of_identical_files_is_empty() -> None:
    assert designer.diff_xml(CLUE_BPMN, CLUE_BPMN) == {"added": [], "removed": [], "changed": []}


def test_diff_finds_a_changed_condition_an_added_task_and_a_removed_flow() -> None:
    new = with_condition("accepted == True and amount_owed &gt; 0")
    new = new.replace('<bpmn:startEvent id="Start_collected"', NEW_TASK, 1)
    # Remove the flow from the chase task to its end event (the element and its references).
    start = new.index('<bpmn:sequenceFlow id="Flow_chased"')
    new = new[:start] + new[new.index("/>", start) + 2:]
    diff = designer.diff_xml(CLUE_BPMN, new)
    assert [(e["id"], e["type"], e["name"]) for e in diff["added"]] == [("Task_extra", "userTask", "补充核实")]
    assert [(e["id"], e["type"]) for e in diff["removed"]] == [("Flow_chased", "sequenceFlow")]
    changed = {e["id"]: e["changes"] for e in diff["changed"]}
    assert changed == {"Flow_accepted": [{"field": "condition", "old": "accepted == True",
                                          "new": "accepted == True and amount_owed > 0"}]}


def test_diff_sees_properties_timers_scripts_lanes_and_attributes() -> None:
    new = (CLUE_BPMN
           .replace('<spiffworkflow:property name="formKey" value="chase" />', '<spiffworkflow:property name="formKey" value="reminder" />')
           .replace(">end_of_day(deadline)<", ">end_of_day(add_workdays(deadline, 1))<")
           .replace("sendback_count = 0", "sendback_count = 1")
           .replace('default="Flow_rejected"', 'default="Flow_accepted"')
           .replace("<bpmn:flowNodeRef>Task_triage</bpmn:flowNodeRef>", "", 1)
           .replace("<bpmn:flowNodeRef>Task_assign</bpmn:flowNodeRef>",
                    "<bpmn:flowNodeRef>Task_assign</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_triage</bpmn:flowNodeRef>", 1))
    changed = {e["id"]: {c["field"]: (c["old"], c["new"]) for c in e["changes"]}
               for e in designer.diff_xml(CLUE_BPMN, new)["changed"]}
    assert changed == {
        "Task_chase": {"property formKey": ("chase", "reminder")},
        "Boundary_deadline": {"timer timeDate": ("end_of_day(deadline)", "end_of_day(add_workdays(deadline, 1))")},
        "Script_prepare": {"script": ("sendback_count = 0", "sendback_count = 1")},
        "Gateway_accepted": {"@default": ("Flow_rejected", "Flow_accepted")},
        "Task_triage": {"lane": ("综合办公室（office）", "工作专班（work_group）")},
    }


def test_diff_of_decision_tables_names_the_rule_and_entry() -> None:
    dmn = (PROCESSES / "triage_routing.dmn").read_text(encoding="utf-8")
    diff = designer.diff_xml(dmn, dmn.replace('["city_econ", "city_finance"]', '["city_econ"]'))
    assert diff["changed"] == [{"id": "Rule_arrears_public", "type": "rule", "name": "", "changes": [
        {"field": "outputEntry[2]/text", "old": '["city_econ", "city_finance"]', "new": '["city_econ"]'}]}]


# --- listing -------------------------------------------------------------------------------
def test_listing_counts_instances_per_version_in_one_group_by(engine: Engine) -> None:
    for _ in range(3):
        ClueDriver(engine)
    rejected = ClueDriver(engine)
    rejected.do("Task_triage", "office", {"accepted": False, "reject_reason": "不属于受理范围"})
    statements: list[str] = []
    listen = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine.sql_engine, "before_cursor_execute", listen)
    try:
        processes = {p["process_id"]: p for p in engine.run(designer.list_definitions, "supervisor")}
    finally:
        event.remove(engine.sql_engine, "before_cursor_execute", listen)
    v1 = processes["clue_handling"]["versions"][0]
    assert (v1["version"], v1["instances_total"], v1["instances_active"]) == (1, 4, 3)
    assert v1["instances"] == {"running": 3, "completed": 1}
    assert processes["unit_reporting"]["versions"][0]["instances_total"] == 0
    assert [f["filename"] for f in v1["files"]] == ["clue_handling.bpmn", "triage_routing.dmn", "unit_reporting.bpmn"]
    assert sum("GROUP BY" in s for s in statements) == 1
    assert sum("process_instance" in s for s in statements) == 1


# --- validate and deploy ------------------------------------------------------------------
def test_a_broken_condition_is_refused_with_its_element_and_nothing_is_stored(engine: Engine) -> None:
    broken = with_condition("accepted ==")
    problems = engine.run(designer.validate_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn", broken)
    assert [p["element_id"] for p in problems] == ["Flow_accepted"]
    assert "condition" in problems[0]["reason"]
    with pytest.raises(DefinitionRejected) as refused:
        engine.run(designer.deploy_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn", broken)
    assert refused.value.problems == problems
    assert [(d["process_id"], d["version"]) for d in engine.definitions()] == [("clue_handling", 1), ("unit_reporting", 1)]


def test_deploy_makes_version_two_and_running_instances_stay_on_one(engine: Engine) -> None:
    old = ClueDriver(engine)
    old.triage()
    assert engine.run(designer.validate_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn",
                      with_condition("accepted == True and True")) == []
    deployed = engine.run(designer.deploy_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn",
                          with_condition("accepted == True and True"))
    assert [(d["process_id"], d["version"], d["unchanged"], d["deployed_by"]) for d in deployed] == [
        ("clue_handling", 2, False, "designer")]
    # Only the edited process got a version; its bundle keeps the decision table.
    assert [(d["process_id"], d["version"]) for d in engine.definitions()] == [
        ("clue_handling", 1), ("clue_handling", 2), ("unit_reporting", 1)]
    v2 = engine.run(designer.show_definition, "office", "clue_handling", 2)
    assert sorted(f["filename"] for f in v2["files"]) == ["clue_handling.bpmn", "triage_routing.dmn"]
    new = ClueDriver(engine)
    new.triage()
    new.assign()
    old.assign()
    old.plan()
    old.report()
    old.review(approved=True)
    assert old.stage == "closed"
    versions = {p["process_id"]: {v["version"]: v["instances"] for v in p["versions"]}
                for p in engine.run(designer.list_definitions, "designer")}
    assert versions["clue_handling"] == {2: {"running": 1}, 1: {"completed": 1}}
    # Deploying the same content again changes nothing.
    again = engine.run(designer.deploy_edit, "designer", ("clue_handling", 2), "clue_handling.bpmn",
                       with_condition("accepted == True and True"))
    assert [(d["version"], d["unchanged"]) for d in again] == [(2, True)]


def test_diff_between_deployed_versions(engine: Engine) -> None:
    engine.run(designer.deploy_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn", with_condition("accepted"))
    diff = engine.run(designer.diff_versions, "supervisor", "clue_handling")
    assert (diff["old"]["version"], diff["new"]["version"]) == (1, 2)
    files = {f["filename"]: f for f in diff["files"]}
    assert files["clue_handling.bpmn"]["status"] == "changed"
    assert [e["id"] for e in files["clue_handling.bpmn"]["changed"]] == ["Flow_accepted"]
    assert files["triage_routing.dmn"]["status"] == "same"
    assert set(files) == {"clue_handling.bpmn", "triage_routing.dmn"}  # not the other process's file


def test_roles(engine: Engine) -> None:
    for role in ("office", "supervisor", "admin", "designer"):
        assert engine.run(designer.list_definitions, role)
    for role in ("unit", "group", "spotcheck", "discipline"):
        with pytest.raises(Forbidden):
            engine.run(designer.list_definitions, role)
    for role in ("office", "supervisor", "admin", "unit"):
        with pytest.raises(Forbidden):
            engine.run(designer.deploy_edit, role, ("clue_handling", 1), "clue_handling.bpmn", CLUE_BPMN)
        with pytest.raises(Forbidden):
            engine.run(designer.deploy_files, role, [("clue_handling.bpmn", CLUE_BPMN)])
        with pytest.raises(Forbidden):
            engine.run(designer.save_form_draft, role, "chase", "{}")


# --- forms ---------------------------------------------------------------------------------
def test_form_drafts_are_checked_and_versioned(engine: Engine) -> None:
    text = engine.run(designer.show_form, "designer", "chase")["text"]
    form = json.loads(text)
    form["schema"]["properties"]["note"]["title"] = "催办情况说明"
    assert engine.run(designer.save_form_draft, "designer", "chase", json.dumps(form, ensure_ascii=False)) == \
        {"key": "chase", "version": 1}
    assert engine.run(designer.save_form_draft, "designer", "chase", text)["version"] == 2
    shown = engine.run(designer.show_form, "office", "chase", 1)
    assert "催办情况说明" in shown["text"] and shown["version"] == 1 and not shown["can_edit"]
    assert [v["version"] for v in engine.run(designer.show_form, "designer", "chase")["versions"]] == [2, 1]
    listed = {f["key"]: f for f in engine.run(designer.list_forms, "designer")}
    assert listed["chase"]["draft"]["version"] == 2 and listed["chase"]["live"]
    for bad, reason in (("{", "JSON"), ('{"schema": {"type": "object", "properties": {"a": {"type": "nope"}}}}', "JSON Schema"),
                        ('{"schema": {"type": "object", "properties": {}}, "ui": {"order": ["x"]}}', "ui.order")):
        with pytest.raises(ValidationFailed) as refused:
            engine.run(designer.save_form_draft, "designer", "chase", bad)
        assert reason in refused.value.fields["content"]
    with pytest.raises(ValidationFailed):
        engine.run(designer.save_form_draft, "designer", "../etc", text)
    assert len(engine.run(designer.show_form, "designer", "chase")["versions"]) == 2


def test_a_new_diagram_deploys_as_version_one_with_the_decisions_it_calls(engine: Engine) -> None:
    copy = CLUE_BPMN.replace('id="clue_handling"', 'id="clue_copy"').replace('processRef="clue_handling"', 'processRef="clue_copy"')
    deployed = engine.run(designer.deploy_edit, "designer", None, "clue_copy.bpmn", copy)
    assert [(d["process_id"], d["version"]) for d in deployed] == [("clue_copy", 1)]
    files = engine.run(designer.show_definition, "designer", "clue_copy", 1)["files"]
    assert sorted(f["filename"] for f in files) == ["clue_copy.bpmn", "triage_routing.dmn"]
    # An upload's name is stored without folders and cut to the column's 200 characters.
    other = copy.replace('id="clue_copy"', 'id="clue_other"').replace('processRef="clue_copy"', 'processRef="clue_other"')
    engine.run(designer.deploy_files, "designer", [("C:\\拟稿\\" + "长" * 250 + ".bpmn", other),
                                                   ("triage_routing.dmn", (PROCESSES / "triage_routing.dmn").read_text())])
    names = [f["filename"] for f in engine.run(designer.show_definition, "designer", "clue_other", 1)["files"]]
    assert len(names[0]) <= 200 and names[0].endswith(".bpmn") and "\\" not in names[0]
