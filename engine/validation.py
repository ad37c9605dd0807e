"""Checks a BPMN/DMN upload before anything is deployed.

Order matters: hostile XML (DTDs, entities, external references) is refused before lxml
ever sees the bytes; then XSD, then every expression the engine would evaluate is compiled
in the restricted environment, then gateways, forms and decisions are cross-checked, and
finally SpiffWorkflow parses the specs. Every problem names its file and element.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from .errors import ScriptRejected
from .lanes import LANES, ROLE_PROPERTY, Parser, lane_role

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
MAX_FILE_BYTES = 5 * 1024 * 1024
RESERVED_IDS = {"Start", "End", "Root"}
# Lanes whose tasks need a property naming the process variable that holds the unit or group.
LANE_CANDIDATE = {"work_group": "candidateGroup", "spot_check": "candidateGroup", "responsible_unit": "candidateUnit"}
MAX_PROCESS_ID = 64
# Elements SpiffWorkflow 3.2 parses but Chengxin cannot run: there is no way to deliver a
# message or signal to an instance from outside it, no compensation handling, and Spiff
# ignores complex gateways' activation conditions. Each entry: tag -> what to tell the designer.
UNSUPPORTED_ELEMENTS = {
    "complexGateway": "complex gateways are not supported; use exclusive, inclusive or parallel gateways",
    "adHocSubProcess": "ad-hoc sub-processes are not supported; model the order of the tasks with flows",
    "transaction": "transactions (with cancel and compensation) are not supported; use a plain sub-process",
    "receiveTask": "receive tasks wait for a message, and messages cannot be delivered to an instance; use a user task",
    "sendTask": "send tasks send a message, and messages between instances are not supported; use a service or script task",
}
UNSUPPORTED_EVENTS = {
    "messageEventDefinition": "message events are not supported (messages cannot be delivered to an instance)",
    "signalEventDefinition": "signal events are not supported (signals cannot be delivered to an instance)",
    "conditionalEventDefinition": "conditional events are not supported; use an exclusive gateway or a timer",
    "compensateEventDefinition": "compensation events are not supported",
    "cancelEventDefinition": "cancel events (of transactions) are not supported",
    "linkEventDefinition": "link events are not supported; draw the sequence flow instead",
}
# A timer text is a Python expression: an ISO literal must be quoted (SPIFF_NOTES pitfall 1).
_ISO_LITERAL = re.compile(r"^\s*(R\d*/|P(\d|T\d)|\d{4}-\d{2}-\d{2})")
# Namespaces whose elements a browser renders or runs (→ the name used in the refusal).
ACTIVE_NAMESPACES = {"http://www.w3.org/1999/xhtml": "XHTML", "http://www.w3.org/2000/svg": "SVG",
                     "http://www.w3.org/1998/Math/MathML": "MathML", "http://www.w3.org/1999/XSL/Transform": "XSLT"}
# BPMN, BPMN DI, DC, DI, DMN and DMN DI are the OMG's; event-handler-like attributes there are not handlers.
OWN_NAMESPACE_PREFIXES = ("http://www.omg.org/spec/", "https://www.omg.org/spec/", SPIFF_NS)
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
_DMN_QUESTION = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")


@dataclass
class SourceFile:
    filename: str
    content: str
    kind: str = ""  # bpmn | dmn, set by parse
    tree: Any = None


@dataclass
class CheckedBundle:
    files: list[SourceFile]
    process_ids: list[str] = field(default_factory=list)
    process_names: dict[str, str] = field(default_factory=dict)
    decision_ids: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    parser: Parser | None = None

    def problem(self, file: SourceFile | None, element_id: str | None, reason: str, kind: str = "invalid") -> None:
        """Record one problem as {"file", "element_id", "reason"} (the shape callers rely on); `kind`
        only documents the call site."""
        self.problems.append({"file": file.filename if file else "", "element_id": element_id or "", "reason": reason})


Compiler = Callable[[str, str], Any]  # (source, mode) -> code; raises ScriptRejected


def check_bundle(files: Iterable[tuple[str, str | bytes]], compile_script: Compiler, form_keys: set[str]) -> CheckedBundle:
    """Validate BPMN and DMN files together; the result lists problems instead of raising."""
    bundle = CheckedBundle([])
    for filename, content in files:
        text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
        source = SourceFile(filename, text)
        bundle.files.append(source)
        _parse_safely(bundle, source)
    if bundle.problems:
        return bundle
    for source in bundle.files:
        if source.kind == "dmn":
            _check_dmn(bundle, source, compile_script)
    for source in bundle.files:
        if source.kind == "bpmn":
            _check_bpmn(bundle, source, compile_script, form_keys)
    if not any(f.kind == "bpmn" for f in bundle.files):
        bundle.problem(None, None, "no BPMN file in the upload")
    if not bundle.problems:
        _parse_with_spiff(bundle)
    return bundle


def _parse_safely(bundle: CheckedBundle, source: SourceFile) -> None:
    if len(source.content.encode()) > MAX_FILE_BYTES:
        bundle.problem(source, None, f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
        return
    try:
        defused.fromstring(source.content.encode(), forbid_dtd=True)
    except DefusedXmlException as exc:
        bundle.problem(source, None, f"refused: {type(exc).__name__} (DOCTYPE, entities and external references are not allowed)")
        return
    except Exception as exc:  # noqa: BLE001 - any parse failure is a user-facing problem
        bundle.problem(source, None, f"not well-formed XML: {exc}")
        return
    root = etree.fromstring(source.content.encode(), _XML_PARSER)
    namespace = etree.QName(root).namespace or ""
    if (namespace == BPMN_NS or "DMN" in namespace.upper()) and _refuse_active_markup(bundle, source, root):
        return
    if namespace == BPMN_NS:
        source.kind = "bpmn"
        try:
            VALIDATOR.validate(root, source.filename)
        except ValidationException as exc:
            bundle.problem(source, getattr(exc, "id", "") or None, f"BPMN schema (XSD) violation at line {exc.line_number}: {exc}")
            return
    elif "DMN" in namespace.upper():
        source.kind = "dmn"
    else:
        bundle.problem(source, None, f"neither BPMN nor DMN (root namespace {namespace or 'none'})")
        return
    source.tree = root


def _refuse_active_markup(bundle: CheckedBundle, source: SourceFile, root: Any) -> bool:
    """Refuse markup a browser would run if the file were ever opened at our origin.

    extensionElements accept any foreign XML, and a definition opened in a browser as XML runs
    an XHTML `<script>` or an SVG `onload` there (issue 18: a designer's file opened by an admin
    created an admin account). Downloads are served as attachments too; this is the second wall.
    """
    found = False
    for element in [*root.itersiblings(preceding=True), *root.iter()]:
        if not isinstance(element.tag, str):  # comments; processing instructions below
            if isinstance(element, etree._ProcessingInstruction) and element.target.lower() == "xml-stylesheet":
                bundle.problem(source, None, "拒绝：文件含有 xml-stylesheet 处理指令（浏览器会执行样式表转换）")
                found = True
            continue
        qname = etree.QName(element)
        namespace, name = qname.namespace or "", qname.localname
        owner = element.get("id") or next((e.get("id") for e in element.iterancestors() if e.get("id")), None)
        if namespace in ACTIVE_NAMESPACES:
            bundle.problem(source, owner, f"拒绝：不允许 {ACTIVE_NAMESPACES[namespace]} 标记 <{name}>"
                                          f"（可在浏览器中执行的内容，命名空间 {namespace}）")
            found = True
            continue
        if name.lower() == "script" and namespace != BPMN_NS:
            bundle.problem(source, owner, f"拒绝：不允许扩展元素 <{name}>（命名空间 {namespace or '无'}），"
                                          "脚本只能写在 BPMN 脚本任务或 spiffworkflow 前后置脚本中")
            found = True
            continue
        for attribute in element.attrib:
            attr = etree.QName(attribute)
            attr_namespace = attr.namespace or namespace
            if attr.localname.lower().startswith("on") and not attr_namespace.startswith(OWN_NAMESPACE_PREFIXES):
                bundle.problem(source, owner, f"拒绝：元素 <{name}> 的属性 {attr.localname} 是事件处理属性"
                                              f"（命名空间 {attr_namespace or '无'}），不允许")
                found = True
    return found


def _compile(bundle: CheckedBundle, source: SourceFile, element_id: str, what: str, text: str | None,
             mode: str, compile_script: Compiler) -> None:
    if text is None or not text.strip():
        bundle.problem(source, element_id, f"{what} is empty")
        return
    try:
        compile_script(text.strip() if mode == "eval" else text, mode)
    except ScriptRejected as exc:
        hint = ""
        if "${" in text or "#{" in text or text.lstrip().startswith("="):
            hint = " (this looks like a JUEL or FEEL expression from another tool; expressions here are Python)"
        elif what.startswith("timer") and _ISO_LITERAL.match(text):
            hint = f" (timer texts are Python expressions, so a literal must be quoted, e.g. \"{text.strip()}\")"
        bundle.problem(source, element_id, f"{what}: {exc}{hint}")


def _check_bpmn(bundle: CheckedBundle, source: SourceFile, compile_script: Compiler, form_keys: set[str]) -> None:
    root = source.tree
    processes = list(root.iterfind("bpmn:process", NS))
    executable = [p for p in processes if (p.get("isExecutable") or "false").lower() == "true"]
    for process in executable:
        process_id = process.get("id") or ""
        if len(process_id) > MAX_PROCESS_ID:
            bundle.problem(source, process_id, f"process id is longer than {MAX_PROCESS_ID} characters")
            continue
        bundle.process_ids.append(process_id)
        bundle.process_names[process_id] = (process.get("name") or process_id)[:200]
    if processes and not executable:
        for process in processes:
            bundle.problem(source, process.get("id"), f"process {_label(process)} is not executable "
                           "(isExecutable is not \"true\"): only executable processes can be deployed",
                           "not_executable")
    # Non-executable pools beside an executable process (a partner's pool) are documentation.
    for process in executable or processes:
        _check_supported(bundle, source, process)
        _check_lanes(bundle, source, process)
    for element in root.iter():
        # SpiffWorkflow names its own start and end tasks so; an element with such an id replaces them.
        if element.get("id") in RESERVED_IDS:
            bundle.problem(source, element.get("id"), f"id {element.get('id')!r} is reserved by the workflow engine; rename the element")
    flows = {f.get("id"): f for f in root.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    for flow in flows.values():
        condition = flow.find("bpmn:conditionExpression", NS)
        if condition is not None:
            _compile(bundle, source, flow.get("id"), "condition", condition.text, "eval", compile_script)
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for timer in root.iter(f"{{{BPMN_NS}}}{tag}"):
            owner = timer.getparent().getparent()
            before = len(bundle.problems)
            _compile(bundle, source, owner.get("id"), f"timer {tag}", timer.text, "eval", compile_script)
            # "P7D" or "R6/P1D" compile as names and would fail only when the timer is armed.
            if len(bundle.problems) == before and _ISO_LITERAL.match(timer.text or ""):
                bundle.problem(source, owner.get("id"), f"timer {tag} {timer.text.strip()!r}: timer texts are Python "
                               f"expressions, so a literal must be quoted, e.g. \"{timer.text.strip()}\"", "timer")
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        language = (task.get("scriptFormat") or "python").strip().lower()
        if language not in ("python", "text/python", "text/x-python", "python3"):
            bundle.problem(source, task.get("id"), f"script language {task.get('scriptFormat')!r} is not supported; "
                           "scripts are Python", "unsupported")
            continue
        script = task.find("bpmn:script", NS)
        _compile(bundle, source, task.get("id"), "script", script.text if script is not None else None, "exec", compile_script)
    for tag in ("preScript", "postScript"):
        for script in root.iter(f"{{{SPIFF_NS}}}{tag}"):
            owner = script.getparent().getparent()
            _compile(bundle, source, owner.get("id"), tag, script.text, "exec", compile_script)
    for param in root.iter(f"{{{SPIFF_NS}}}parameter"):
        owner = param.getparent().getparent().getparent().getparent()
        _compile(bundle, source, owner.get("id"), f"service parameter {param.get('id')}", param.get("value"), "eval", compile_script)
    for tag in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in root.iter(f"{{{BPMN_NS}}}{tag}"):
            _check_gateway(bundle, source, gateway, flows)
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == "formKey" and prop.get("value") not in form_keys:
            owner = prop.getparent().getparent().getparent()
            bundle.problem(source, owner.get("id"), f"unknown form {prop.get('value')!r} (no forms/{prop.get('value')}.json)")
    for called in root.iter(f"{{{SPIFF_NS}}}calledDecisionId"):
        owner = called.getparent().getparent()
        if (called.text or "").strip() not in bundle.decision_ids:
            bundle.problem(source, owner.get("id"), f"decision {called.text!r} is not in the uploaded DMN files")


def _label(element: Any) -> str:
    name = " ".join((element.get("name") or "").split())
    return f"{element.get('id')!r} ({name})" if name else repr(element.get("id"))


def _check_supported(bundle: CheckedBundle, source: SourceFile, process: Any) -> None:
    """Refuse what SpiffWorkflow or Chengxin cannot run, naming each element."""
    for element in process.iter():
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element).localname
        namespace = etree.QName(element).namespace
        if namespace != BPMN_NS:
            continue
        if tag in UNSUPPORTED_ELEMENTS:
            bundle.problem(source, element.get("id"), f"{tag} {_label(element)}: {UNSUPPORTED_ELEMENTS[tag]}", "unsupported")
        elif tag in UNSUPPORTED_EVENTS:
            owner = element.getparent()
            bundle.problem(source, owner.get("id"), f"{etree.QName(owner).localname} {_label(owner)}: "
                           f"{UNSUPPORTED_EVENTS[tag]}", "unsupported")
        elif tag == "serviceTask" and element.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS) is None:
            bundle.problem(source, element.get("id"), f"serviceTask {_label(element)} names no operation "
                           "(spiffworkflow:serviceTaskOperator), so the engine could not run it", "unsupported")
        elif tag == "businessRuleTask" and element.find("bpmn:extensionElements/spiffworkflow:calledDecisionId", NS) is None:
            bundle.problem(source, element.get("id"), f"businessRuleTask {_label(element)} names no decision "
                           "(spiffworkflow:calledDecisionId)", "unsupported")


def _check_lanes(bundle: CheckedBundle, source: SourceFile, process: Any) -> None:
    """A lane's role selects who acts (engine/lanes.py); any other role would reach nobody."""
    tasks = {e.get("id"): e for e in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask",
                                                  f"{{{BPMN_NS}}}task")}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        name = lane_role(lane) or ""
        if lane.find("bpmn:childLaneSet", NS) is not None:
            continue  # a parent lane; its children decide
        if name not in LANES:
            bundle.problem(source, lane.get("id"), f"lane {_label(lane)}: a lane's role (its property "
                           f"{ROLE_PROPERTY!r}, or else its name) selects who acts and must be one of "
                           f"{', '.join(LANES)}; leave a task outside every lane to offer it to the person who "
                           "started the instance", "lane")
            continue
        wanted = LANE_CANDIDATE.get(name)
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            task = tasks.get((ref.text or "").strip())
            if task is None or wanted is None:
                continue
            props = {p.get("name") for p in task.iterfind(
                "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}
            if wanted not in props:
                bundle.problem(source, task.get("id"), f"task {_label(task)} is in lane {name!r} but has no "
                               f"{wanted} property naming the variable that holds the "
                               f"{'group' if wanted == 'candidateGroup' else 'unit'}, so nobody could act on it", "lane")


def _check_gateway(bundle: CheckedBundle, source: SourceFile, gateway: Any, flows: dict[str, Any]) -> None:
    outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
    conditional = [f for f in outgoing if f.find("bpmn:conditionExpression", NS) is not None]
    default = gateway.get("default")
    if default and default not in {f.get("id") for f in outgoing}:
        bundle.problem(source, gateway.get("id"), f"default flow {default!r} does not leave this gateway")
    elif len(outgoing) > 1 and not default:
        bundle.problem(source, gateway.get("id"), "gateway has no default flow: when no condition holds the instance would stop with an error")
    elif len(outgoing) > 1 and len(conditional) < len(outgoing) - 1:
        bundle.problem(source, gateway.get("id"), "every outgoing flow except the default needs a condition")


def _check_dmn(bundle: CheckedBundle, source: SourceFile, compile_script: Compiler) -> None:
    root = source.tree
    ns = {"dmn": etree.QName(root).namespace}
    for decision in root.iterfind("dmn:decision", ns):
        bundle.decision_ids.append(decision.get("id"))
        table = decision.find("dmn:decisionTable", ns)
        if table is None:
            bundle.problem(source, decision.get("id"), f"decision {_label(decision)} has no decision table; only "
                           "decision tables are supported (no literal expressions)", "unsupported")
            continue
        # SpiffWorkflow 3.2 evaluates UNIQUE (as first hit) and COLLECT only (SPIFF_NOTES pitfall 11).
        if (table.get("hitPolicy") or "UNIQUE").upper() not in ("UNIQUE", "COLLECT"):
            bundle.problem(source, table.get("id") or decision.get("id"), f"hit policy {table.get('hitPolicy')!r} is "
                           "not supported; use UNIQUE (the first matching rule wins) or COLLECT", "unsupported")
        if decision.find("dmn:informationRequirement", ns) is not None:
            bundle.problem(source, decision.get("id"), f"decision {_label(decision)} requires other decisions; "
                           "decision requirement graphs are not supported (one table per decision)", "unsupported")
        inputs = [(i.findtext("dmn:inputExpression/dmn:text", namespaces=ns) or "").strip()
                  for i in decision.iterfind("dmn:decisionTable/dmn:input", ns)]
        for expr, inp in zip(inputs, decision.iterfind("dmn:decisionTable/dmn:input", ns)):
            _compile(bundle, source, inp.get("id"), "input expression", expr, "eval", compile_script)
        for rule in decision.iterfind("dmn:decisionTable/dmn:rule", ns):
            for expr, entry in zip(inputs, rule.iterfind("dmn:inputEntry", ns)):
                _check_input_entry(bundle, source, entry.get("id") or rule.get("id"), expr,
                                   (entry.findtext("dmn:text", namespaces=ns) or "").strip(), compile_script)
            for entry in rule.iterfind("dmn:outputEntry", ns):
                text = (entry.findtext("dmn:text", namespaces=ns) or "").strip()
                if text:
                    _compile(bundle, source, entry.get("id") or rule.get("id"), "output entry", text, "eval", compile_script)


def _check_input_entry(bundle: CheckedBundle, source: SourceFile, element_id: str, input_expr: str, text: str,
                       compile_script: Compiler) -> None:
    # Mirror SpiffWorkflow's DMNEngine: '-' or empty is "any", '?' stands for the input,
    # an entry that parses alone is compared with ==, otherwise it is a unary test.
    if text in ("", "-"):
        return
    if _DMN_QUESTION.search(text):
        expr = _DMN_QUESTION.sub("dmninputexpr", text)
    else:
        try:
            compile(text, "<dmn>", "eval")
            expr = f"({input_expr}) == ({text})"
        except SyntaxError:
            expr = f"{input_expr} {text}"
    _compile(bundle, source, element_id, "input entry", expr, "eval", compile_script)


def _parse_with_spiff(bundle: CheckedBundle) -> None:
    parser = Parser()
    try:
        for source in bundle.files:
            if source.kind == "dmn":
                parser.add_dmn_xml(source.tree, filename=source.filename)
        for source in bundle.files:
            if source.kind == "bpmn":
                parser.add_bpmn_xml(source.tree, filename=source.filename)
        for process_id in bundle.process_ids:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        bundle.problems.append({"file": exc.file_name or "", "element_id": exc.id or "", "reason": str(exc)})
        return
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises many types; none may crash an upload
        bundle.problems.append({"file": "", "element_id": "", "reason": f"{type(exc).__name__}: {exc}"})
        return
    if not bundle.process_ids:
        bundle.problem(None, None, "no executable process (isExecutable=\"true\") in the upload", "not_executable")
    bundle.parser = parser
