"""Deploying BPMN/DMN: hostile or broken uploads are refused with the element at fault and
nothing stored; good ones get versions; a failing script parks its instance in error."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine
from engine.db.models import InstanceStatus, ProcessInstance
from engine.errors import DefinitionRejected, ScriptRejected
from engine.history import events_of
from engine.instances import start_instance

from ..factories import ClueDriver

DATA = Path(__file__).resolve().parents[1] / "data" / "definitions"


def fixture_files(*names: str) -> list[tuple[str, str]]:
    return [(name, (DATA / name).read_text(encoding="utf-8")) for name in names]


def process_ids(engine: Engine) -> set[str]:
    return {d["process_id"] for d in engine.definitions()}


def rejected(engine: Engine, files: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Deploy, expect a refusal, and check that the refusal left the catalogue untouched."""
    before = engine.definitions()
    with pytest.raises(DefinitionRejected) as caught:
        engine.deploy(files, "designer")
    assert engine.definitions() == before
    problems = caught.value.problems
    assert problems and all(set(p) == {"file", "element_id", "reason"} for p in problems)
    return problems


def the_problem(problems: list[dict[str, str]], element_id: str) -> dict[str, str]:
    matching = [p for p in problems if p["element_id"] == element_id]
    assert matching, f"no problem names {element_id!r}: {problems}"
    return matching[0]


# (files, file at fault, element id at fault or "", pattern the reason must match, process id in the upload)
REFUSED = [
    pytest.param(["xxe_passwd.bpmn"], "xxe_passwd.bpmn", "", r"DTD|DOCTYPE", "test_xxe", id="xxe-system-entity"),
    pytest.param(["billion_laughs.bpmn"], "billion_laughs.bpmn", "", r"DTD|DOCTYPE", "test_billion_laughs",
                 id="billion-laughs"),
    pytest.param(["condition_syntax.bpmn"], "condition_syntax.bpmn", "Flow_large", r"^condition: syntax error",
                 "test_condition_syntax", id="condition-does-not-parse"),
    pytest.param(["timer_syntax.bpmn"], "timer_syntax.bpmn", "Timer_wait", r"^timer timeDate: syntax error",
                 "test_timer_syntax", id="timer-does-not-parse"),
    pytest.param(["gateway_no_default.bpmn"], "gateway_no_default.bpmn", "Gateway_amount", r"no default flow",
                 "test_gateway_no_default", id="gateway-without-default"),
    pytest.param(["gateway_foreign_default.bpmn"], "gateway_foreign_default.bpmn", "Gateway_amount",
                 r"default flow 'Flow_in' does not leave this gateway", "test_gateway_foreign_default",
                 id="default-flow-not-outgoing"),
    pytest.param(["script_import.bpmn"], "script_import.bpmn", "Script_import", r"^script: Import is not allowed",
                 "test_script_import", id="script-import"),
    pytest.param(["script_class_bases.bpmn"], "script_class_bases.bpmn", "Script_bases",
                 r"^script: attribute '__(class|bases)__' is not allowed", "test_script_bases",
                 id="script-class-bases"),
    pytest.param(["script_format.bpmn"], "script_format.bpmn", "Script_format",
                 r"^script: attribute '(format|__class__)' is not allowed", "test_script_format",
                 id="script-str-format"),
    pytest.param(["unknown_form.bpmn"], "unknown_form.bpmn", "Task_no_such_form", r"unknown form 'no_such_form'",
                 "test_unknown_form", id="unknown-form-key"),
    pytest.param(["missing_decision.bpmn"], "missing_decision.bpmn", "Rule_decide",
                 r"decision 'no_such_decision' is not in the uploaded DMN", "test_missing_decision",
                 id="called-decision-missing"),
    pytest.param(["calls_amount_band.bpmn", "amount_band_bad_entry.dmn"], "amount_band_bad_entry.dmn",
                 "InputEntry_large", r"^input entry: syntax error", "test_amount_band", id="dmn-bad-input-entry"),
    pytest.param(["not_xml.bpmn"], "not_xml.bpmn", "", r"not well-formed XML", None, id="not-xml"),
    pytest.param(["neither_bpmn_nor_dmn.xml"], "neither_bpmn_nor_dmn.xml", "",
                 r"neither BPMN nor DMN \(root namespace http://www.w3.org/2000/svg\)", None, id="neither-bpmn-nor-dmn"),
    pytest.param(["xsd_violation.bpmn"], "xsd_violation.bpmn", "", r"XSD.*line 8.*notAnElement", "test_xsd_violation",
                 id="xsd-violation"),
]


@pytest.mark.parametrize(("names", "file", "element_id", "reason", "process_id"), REFUSED)
def test_hostile_upload_is_refused_and_nothing_stored(engine: Engine, names: list[str], file: str, element_id: str,
                                                      reason: str, process_id: str | None) -> None:
    problems = rejected(engine, fixture_files(*names))
    problem = the_problem(problems, element_id)
    assert problem["file"] == file
    assert re.search(reason, problem["reason"]), problem["reason"]
    if process_id is not None:
        assert process_id not in process_ids(engine)


def test_external_entity_is_never_resolved(engine: Engine) -> None:
    problems = rejected(engine, fixture_files("xxe_passwd.bpmn"))
    assert "root:" not in repr(problems)  # no line of /etc/passwd in what the designer sees


def test_entity_expansion_is_never_performed(engine: Engine) -> None:
    problems = rejected(engine, fixture_files("billion_laughs.bpmn"))
    assert "lollol" not in repr(problems) and len(repr(problems)) < 2000


def test_one_bad_file_refuses_the_whole_upload(engine: Engine) -> None:
    problems = rejected(engine, fixture_files("valid_script.bpmn", "script_import.bpmn"))
    assert [p["element_id"] for p in problems] == ["Script_import"]
    assert "test_valid_script" not in process_ids(engine)
    assert "test_script_import" not in process_ids(engine)


def test_every_problem_of_an_upload_is_listed(engine: Engine) -> None:
    problems = rejected(engine, fixture_files("script_import.bpmn", "unknown_form.bpmn", "gateway_no_default.bpmn"))
    assert {p["element_id"] for p in problems} >= {"Script_import", "Task_no_such_form", "Gateway_amount"}


def test_the_valid_fixture_deploys(engine: Engine) -> None:
    # The refusals above are not an artefact of how the fixtures are written.
    deployed = engine.deploy(fixture_files("valid_script.bpmn"), "designer")
    assert [(d["process_id"], d["version"]) for d in deployed] == [("test_valid_script", 1)]
    listed = [d for d in engine.definitions() if d["process_id"] == "test_valid_script"]
    assert listed[0]["deployed_by"] == "designer" and listed[0]["name"] == "合法脚本"


def test_sandbox_escape_script_is_refused(engine: Engine) -> None:
    # try/except* catches an exception, a match class pattern reads its __traceback__, and
    # tb_frame.f_back.f_builtins is the real __import__: each step alone must be refused.
    problems = rejected(engine, fixture_files("script_escape.bpmn"))
    assert re.search(r"^script: .* is not allowed", the_problem(problems, "Script_escape")["reason"])
    assert "test_script_escape" not in process_ids(engine)


def test_element_id_reserved_by_spiffworkflow_is_refused(engine: Engine) -> None:
    problems = rejected(engine, fixture_files("reserved_start_id.bpmn"))
    assert "Start" in the_problem(problems, "Start")["reason"]


# --- versions -----------------------------------------------------------------------------

def test_redeploying_unchanged_processes_returns_the_same_version(engine: Engine) -> None:
    before = engine.definitions()
    again = engine.deploy_directory()
    assert sorted((d["process_id"], d["version"]) for d in again) == [("clue_handling", 1), ("unit_reporting", 1)]
    assert engine.definitions() == before


def bundled_files_with_changed_prepare_script(engine: Engine) -> list[tuple[str, str]]:
    files = []
    for path in sorted(engine.settings.processes_dir.iterdir()):
        if path.suffix not in (".bpmn", ".dmn"):
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == "clue_handling.bpmn":
            old = "<bpmn:script>sendback_count = 0</bpmn:script>"
            assert text.count(old) == 1
            text = text.replace(old, '<bpmn:script>sendback_count = 0\nprepared_by = "v2"</bpmn:script>')
        files.append((path.name, text))
    return files


def prepare_event(engine: Engine, clue_id: int) -> dict[str, Any]:
    events = [e for e in engine.clue_history(clue_id)["events"] if e["element_id"] == "Script_prepare"]
    assert len(events) == 1
    return events[0]["data"]


def definition_version(engine: Engine, instance_id: int) -> int:
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, instance_id)
        assert instance is not None
        return instance.definition.version


def test_changed_file_is_version_2_and_old_instances_keep_version_1(engine: Engine) -> None:
    old = ClueDriver(engine)
    deployed = engine.deploy(bundled_files_with_changed_prepare_script(engine), "designer")
    assert {d["process_id"]: d["version"] for d in deployed}["clue_handling"] == 2
    assert {(d["process_id"], d["version"]) for d in engine.definitions()} >= {("clue_handling", 1), ("clue_handling", 2)}
    new = ClueDriver(engine)
    assert definition_version(engine, old.instance_id) == 1
    assert definition_version(engine, new.instance_id) == 2

    old.triage()
    shown = old.show()
    assert shown["instance"]["status"] == "running" and shown["stage"] == "assigning"
    assert old.ready() == ["Task_assign"]
    assert prepare_event(engine, old.clue_id) == {"sendback_count": 0}  # v1's script ran
    assert definition_version(engine, old.instance_id) == 1

    new.triage()
    assert new.stage == "assigning"
    assert prepare_event(engine, new.clue_id) == {"sendback_count": 0, "prepared_by": "v2"}

    # Unchanged again: the upload that made version 2 does not make version 3.
    again = engine.deploy(bundled_files_with_changed_prepare_script(engine), "designer")
    assert {d["process_id"]: d["version"] for d in again}["clue_handling"] == 2


# --- scripts at run time ------------------------------------------------------------------

def start(engine: Engine, files: list[str], process_id: str) -> int:
    engine.deploy(fixture_files(*files), "designer")
    with engine.transaction() as ctx:
        instance = start_instance(ctx, process_id, {"amount": 1}, "office", "office")
        return instance.id


def stored(engine: Engine, instance_id: int) -> tuple[ProcessInstance, list[Any]]:
    """The instance and its history as a fresh transaction sees them (so: committed)."""
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, instance_id)
        assert instance is not None
        events = events_of(ctx.session, instance_id)
        ctx.session.expunge_all()
        return instance, events


def test_failing_script_parks_the_instance_in_error(engine: Engine) -> None:
    instance_id = start(engine, ["script_divide_by_zero.bpmn"], "test_divide_by_zero")
    instance, events = stored(engine, instance_id)
    assert instance.status == InstanceStatus.error
    assert instance.error_element == "Script_divide"
    assert "ZeroDivisionError" in (instance.error_message or "")
    assert instance.completed_at is None
    assert [e.kind for e in events] == ["instance_started", "error"]
    assert events[-1].element_id == "Script_divide"
    assert "division by zero" in events[-1].data["message"]


def test_open_is_deployable_but_fails_at_run_time_without_reading(engine: Engine) -> None:
    # `open` is only a name, so the syntax check lets it through; the restricted builtins do not have it.
    instance_id = start(engine, ["script_open.bpmn"], "test_script_open")
    instance, events = stored(engine, instance_id)
    assert instance.status == InstanceStatus.error
    assert instance.error_element == "Script_open"
    assert "NameError" in (instance.error_message or "") and "open" in (instance.error_message or "")
    assert [e.kind for e in events] == ["instance_started", "error"]
    assert "root:" not in instance.state and '"secret"' not in instance.state


def test_script_failing_with_non_string_error_parks_the_instance(engine: Engine) -> None:
    instance_id = start(engine, ["script_missing_int_key.bpmn"], "test_missing_int_key")
    instance, events = stored(engine, instance_id)
    assert instance.status == InstanceStatus.error and instance.error_element == "Script_lookup"
    assert events[-1].kind == "error"


def test_script_leaving_unstorable_value_refuses_the_operation(engine: Engine) -> None:
    # Nothing half-written: the value cannot be saved, so the whole start is refused.
    with pytest.raises(ScriptRejected, match="cannot be stored"):
        start(engine, ["script_unserializable_result.bpmn"], "test_unserializable_result")
    with engine.transaction() as ctx:
        assert ctx.session.scalars(select(ProcessInstance).where(
            ProcessInstance.process_id == "test_unserializable_result")).all() == []
