"""Deploy-time refusal of what the engine cannot run (engine/validation.py), one small diagram each."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.errors import DefinitionRejected

DATA = Path(__file__).resolve().parents[1] / "data"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs" targetNamespace="http://x">\n')


def diagram(body: str, lanes: str = "", executable: str = "true") -> str:
    """start -> [body: elements from Flow_in to Flow_out] -> end."""
    return (HEAD + f'<bpmn:process id="generic_probe" name="探针" isExecutable="{executable}">{lanes}'
            '<bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_in</bpmn:outgoing></bpmn:startEvent>'
            f'{body}<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_out</bpmn:incoming></bpmn:endEvent>'
            '</bpmn:process></bpmn:definitions>')


def task(tag: str, element_id: str = "Task_1", inner: str = "", attrs: str = "", after: str = "") -> str:
    return (f'<bpmn:{tag} id="{element_id}" name="任务"{attrs}>{inner}<bpmn:incoming>Flow_in</bpmn:incoming>'
            f'<bpmn:outgoing>Flow_out</bpmn:outgoing>{after}</bpmn:{tag}>'
            f'<bpmn:sequenceFlow id="Flow_in" sourceRef="Start_1" targetRef="{element_id}" />'
            f'<bpmn:sequenceFlow id="Flow_out" sourceRef="{element_id}" targetRef="End_1" />')


def refusal(engine: Engine, bpmn: str) -> list[dict[str, str]]:
    with pytest.raises(DefinitionRejected) as refused:
        engine.deploy([("probe.bpmn", bpmn)], "designer")
    assert engine.definitions() == []
    assert all(p["file"] == "probe.bpmn" for p in refused.value.problems)
    return refused.value.problems


def reasons_for(problems: list[dict[str, str]], element_id: str) -> str:
    found = [p["reason"] for p in problems if p["element_id"] == element_id]
    assert found, problems
    return " ".join(found)


def with_timer(tag: str, text: str) -> str:
    return (f'<bpmn:intermediateCatchEvent id="Timer_1"><bpmn:incoming>Flow_in</bpmn:incoming>'
            f'<bpmn:outgoing>Flow_out</bpmn:outgoing><bpmn:timerEventDefinition id="TimerDef_1">'
            f'<bpmn:{tag} xsi:type="bpmn:tFormalExpression">{text}</bpmn:{tag}></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="Flow_in" sourceRef="Start_1" targetRef="Timer_1" />'
            '<bpmn:sequenceFlow id="Flow_out" sourceRef="Timer_1" targetRef="End_1" />')


@pytest.mark.parametrize("tag, words", [
    ("receiveTask", "receive tasks wait for a message"),
    ("sendTask", "send tasks send a message"),
    ("serviceTask", "names no operation"),
    ("businessRuleTask", "names no decision"),
])
def test_tasks_the_engine_cannot_run_are_refused_by_id(bare_engine: Engine, tag: str, words: str) -> None:
    assert words in reasons_for(refusal(bare_engine, diagram(task(tag))), "Task_1")


@pytest.mark.parametrize("definition, words", [
    ('<bpmn:messageEventDefinition id="Def_1" />', "message events"),
    ('<bpmn:signalEventDefinition id="Def_1" />', "signal events"),
    ('<bpmn:conditionalEventDefinition id="Def_1"><bpmn:condition xsi:type="bpmn:tFormalExpression">x</bpmn:condition>'
     '</bpmn:conditionalEventDefinition>', "conditional events"),
    ('<bpmn:linkEventDefinition id="Def_1" name="a" />', "link events"),
])
def test_events_the_engine_cannot_deliver_are_refused_by_id(bare_engine: Engine, definition: str, words: str) -> None:
    event = (f'<bpmn:intermediateCatchEvent id="Event_1" name="等"><bpmn:incoming>Flow_in</bpmn:incoming>'
             f'<bpmn:outgoing>Flow_out</bpmn:outgoing>{definition}</bpmn:intermediateCatchEvent>'
             '<bpmn:sequenceFlow id="Flow_in" sourceRef="Start_1" targetRef="Event_1" />'
             '<bpmn:sequenceFlow id="Flow_out" sourceRef="Event_1" targetRef="End_1" />')
    reason = reasons_for(refusal(bare_engine, diagram(event)), "Event_1")
    assert words in reason and "'Event_1' (等)" in reason


def test_complex_gateway_and_ad_hoc_subprocess_are_refused(bare_engine: Engine) -> None:
    body = ('<bpmn:complexGateway id="Gateway_1"><bpmn:incoming>Flow_in</bpmn:incoming><bpmn:outgoing>Flow_mid</bpmn:outgoing>'
            '</bpmn:complexGateway><bpmn:adHocSubProcess id="Sub_1"><bpmn:incoming>Flow_mid</bpmn:incoming>'
            '<bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:adHocSubProcess>'
            '<bpmn:sequenceFlow id="Flow_in" sourceRef="Start_1" targetRef="Gateway_1" />'
            '<bpmn:sequenceFlow id="Flow_mid" sourceRef="Gateway_1" targetRef="Sub_1" />'
            '<bpmn:sequenceFlow id="Flow_out" sourceRef="Sub_1" targetRef="End_1" />')
    problems = refusal(bare_engine, diagram(body))
    assert "complex gateways" in reasons_for(problems, "Gateway_1")
    assert "ad-hoc sub-processes" in reasons_for(problems, "Sub_1")


def test_a_non_executable_process_is_named(bare_engine: Engine) -> None:
    problems = refusal(bare_engine, diagram(task("userTask"), executable="false"))
    assert "not executable" in reasons_for(problems, "generic_probe")


def lanes(name: str, node: str = "Task_1") -> str:
    return (f'<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{name}"><bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>'
            '</bpmn:lane></bpmn:laneSet>')


def test_a_lane_that_is_no_role_is_refused(bare_engine: Engine) -> None:
    reason = reasons_for(refusal(bare_engine, diagram(task("userTask"), lanes("Accounting"))), "Lane_1")
    assert "office, work_group, responsible_unit, spot_check, discipline" in reason and "started the instance" in reason


def test_a_group_lane_task_must_say_which_group(bare_engine: Engine) -> None:
    problems = refusal(bare_engine, diagram(task("userTask"), lanes("work_group")))
    assert "candidateGroup" in reasons_for(problems, "Task_1")
    props = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="candidateGroup" '
             'value="work_group" /></spiffworkflow:properties></bpmn:extensionElements>')
    deployed = bare_engine.deploy([("probe.bpmn", diagram(task("userTask", inner=props), lanes("work_group")))], "designer")
    assert [d["process_id"] for d in deployed] == ["generic_probe"]


def test_known_lanes_and_lane_less_tasks_deploy(bare_engine: Engine) -> None:
    assert bare_engine.deploy([("probe.bpmn", diagram(task("userTask"), lanes("office")))], "designer")
    assert bare_engine.deploy([("probe.bpmn", diagram(task("manualTask")))], "designer")[0]["version"] == 2


@pytest.mark.parametrize("tag, text", [("timeDuration", "P7D"), ("timeCycle", "R6/P1D"),
                                       ("timeDate", "2024-06-01")])
def test_an_unquoted_timer_literal_is_refused_with_the_fix(bare_engine: Engine, tag: str, text: str) -> None:
    reason = reasons_for(refusal(bare_engine, diagram(with_timer(tag, text))), "Timer_1")
    assert "must be quoted" in reason and f'"{text}"' in reason


def test_a_quoted_timer_literal_deploys(bare_engine: Engine) -> None:
    assert bare_engine.deploy([("probe.bpmn", diagram(with_timer("timeDuration", '"P7D"')))], "designer")


def test_scripts_in_other_languages_and_foreign_expressions_are_explained(bare_engine: Engine) -> None:
    script = task("scriptTask", after="<bpmn:script>x = 1</bpmn:script>", attrs=' scriptFormat="javascript"')
    assert "script language 'javascript'" in reasons_for(refusal(bare_engine, diagram(script)), "Task_1")
    juel = ('<bpmn:exclusiveGateway id="Gateway_1" default="Flow_out"><bpmn:incoming>Flow_in</bpmn:incoming>'
            '<bpmn:outgoing>Flow_out</bpmn:outgoing><bpmn:outgoing>Flow_yes</bpmn:outgoing></bpmn:exclusiveGateway>'
            '<bpmn:sequenceFlow id="Flow_in" sourceRef="Start_1" targetRef="Gateway_1" />'
            '<bpmn:sequenceFlow id="Flow_out" sourceRef="Gateway_1" targetRef="End_1" />'
            '<bpmn:sequenceFlow id="Flow_yes" sourceRef="Gateway_1" targetRef="End_1"><bpmn:conditionExpression '
            'xsi:type="bpmn:tFormalExpression">${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>')
    assert "JUEL or FEEL" in reasons_for(refusal(bare_engine, diagram(juel)), "Flow_yes")


DMN = (DATA / "generic_band.dmn").read_text(encoding="utf-8")
CALLER = (DATA / "generic_request.bpmn").read_text(encoding="utf-8")


@pytest.mark.parametrize("change, element_id, words", [
    (('hitPolicy="UNIQUE"', 'hitPolicy="PRIORITY"'), "DecisionTable_generic_band", "hit policy 'PRIORITY'"),
    (('<decisionTable id="DecisionTable_generic_band" hitPolicy="UNIQUE">',
      '<informationRequirement id="Req_1"><requiredDecision href="#other" /></informationRequirement>'
      '<decisionTable id="DecisionTable_generic_band" hitPolicy="UNIQUE">'), "generic_band", "requires other decisions"),
    (('<inputEntry id="InputEntry_big"><text>&gt;= 10000</text>', '<inputEntry id="InputEntry_big"><text>[1..5]</text>'),
     "InputEntry_big", "input entry"),
])
def test_dmn_features_spiffworkflow_lacks_are_refused(bare_engine: Engine, change: tuple[str, str], element_id: str,
                                                      words: str) -> None:
    with pytest.raises(DefinitionRejected) as refused:
        bare_engine.deploy([("generic_request.bpmn", CALLER), ("generic_band.dmn", DMN.replace(*change))], "designer")
    found = [p for p in refused.value.problems if p["element_id"] == element_id]
    assert found and words in found[0]["reason"] and found[0]["file"] == "generic_band.dmn", refused.value.problems


def role_lane(name: str, role: str, node: str = "Task_1") -> str:
    return (f'<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{name}"><bpmn:extensionElements>'
            f'<spiffworkflow:properties><spiffworkflow:property name="role" value="{role}" /></spiffworkflow:properties>'
            f'</bpmn:extensionElements><bpmn:flowNodeRef>{node}</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')


def test_a_lane_named_for_people_routes_by_its_role_property(bare_engine: Engine) -> None:
    deployed = bare_engine.deploy([("probe.bpmn", diagram(task("userTask"), role_lane("综合办公室", "office")))],
                                  "designer")
    assert [d["process_id"] for d in deployed] == ["generic_probe"]
    from engine.definitions import latest_definition
    with bare_engine.transaction() as ctx:
        spec, _ = ctx.runtime.specs.get(latest_definition(ctx.session, "generic_probe"))
    assert spec.task_specs["Task_1"].lane == "office"  # what access.task_audience routes by


def test_a_lane_with_a_name_but_no_role_is_refused(bare_engine: Engine) -> None:
    reason = reasons_for(refusal(bare_engine, diagram(task("userTask"), lanes("综合办公室"))), "Lane_1")
    assert "role" in reason and "office, work_group" in reason


def test_the_shipped_diagrams_show_lane_names_in_chinese() -> None:
    from pathlib import Path

    from lxml import etree

    from engine.lanes import LANES, NS, lane_role
    for path in sorted((Path(__file__).parents[2] / "processes").glob("*.bpmn")):
        lanes = etree.parse(str(path)).getroot().findall(".//bpmn:lane", NS)
        assert lanes, path
        for lane in lanes:
            assert lane_role(lane) in LANES and lane.get("name") not in LANES, (path.name, lane.get("id"))
