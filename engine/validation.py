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
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .errors import ScriptRejected

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
MAX_FILE_BYTES = 5 * 1024 * 1024
RESERVED_IDS = {"Start", "End", "Root"}
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
    parser: SpiffBpmnParser | None = None

    def problem(self, file: SourceFile | None, element_id: str | None, reason: str) -> None:
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


def _compile(bundle: CheckedBundle, source: SourceFile, element_id: str, what: str, text: str | None,
             mode: str, compile_script: Compiler) -> None:
    if text is None or not text.strip():
        bundle.problem(source, element_id, f"{what} is empty")
        return
    try:
        compile_script(text.strip() if mode == "eval" else text, mode)
    except ScriptRejected as exc:
        bundle.problem(source, element_id, f"{what}: {exc}")


def _check_bpmn(bundle: CheckedBundle, source: SourceFile, compile_script: Compiler, form_keys: set[str]) -> None:
    root = source.tree
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "false").lower() == "true":
            bundle.process_ids.append(process.get("id"))
            bundle.process_names[process.get("id")] = process.get("name") or process.get("id")
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
            _compile(bundle, source, owner.get("id"), f"timer {tag}", timer.text, "eval", compile_script)
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
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
    parser = SpiffBpmnParser()
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
        bundle.problem(None, None, "no executable process (isExecutable=\"true\") in the upload")
    bundle.parser = parser
