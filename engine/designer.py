"""The process designer: deployed definitions with their instance counts, one version's files,
an element-level diff between two versions, validation and deployment of a diagram edited in
the browser, and form-definition drafts.

Who may do what:
- VIEW_ROLES (designer, office, supervisor, admin) see every definition, version, diagram,
  diff and form; they change nothing.
- DEPLOY_ROLES (designer) validate, deploy and save form drafts. Deploying goes through
  engine.definitions.deploy, so check_bundle refuses anything invalid and a deploy always makes
  a new version; running instances stay on the version they started on.

A deployed version stores the whole bundle it was deployed with (every BPMN and DMN file of
that upload). Editing one file of a version deploys a smaller bundle: the BPMN file holding the
version's process and the version's DMN files, with the edited file replaced — so only the
edited process (and not every process that happened to share the upload) gets a new version.

Form drafts (table form_draft) are versioned JSON documents in the forms/<key>.json shape,
checked like FormRegistry checks files and previewed with the task page's form macro. They do
not change what task pages show: forms are still read from forms/ at start-up, and a draft goes
live by being downloaded into forms/ (see webui/designer.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from sqlalchemy import func, select

from . import access
from .context import Context
from .db.design_models import FormDraft
from .db.models import DefinitionFile, ProcessDefinition, ProcessInstance, Role
from .definitions import deploy
from .errors import NotFound, ValidationFailed
from .lanes import lane_role
from .validation import _XML_PARSER, check_bundle

VIEW_ROLES = (Role.designer, Role.office, Role.supervisor, Role.admin)
DEPLOY_ROLES = (Role.designer,)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# Children of a process (or sub-process) that are not elements of their own in the diff.
_NOT_ELEMENTS = {"laneSet", "extensionElements", "documentation", "incoming", "outgoing", "ioSpecification",
                 "dataInputAssociation", "dataOutputAssociation", "property"}
_DMN_ELEMENTS = {"decision", "input", "output", "rule", "inputData", "knowledgeSource", "businessKnowledgeModel"}


def _user(ctx: Context, username: str, roles: tuple[Role, ...]) -> Any:
    user = access.get_user(ctx.session, username)
    access.require_role(user, *roles)
    return user


def can_deploy(ctx: Context, username: str) -> bool:
    return access.get_user(ctx.session, username).role in DEPLOY_ROLES


# --- listing -------------------------------------------------------------------------------
def list_definitions(ctx: Context, username: str) -> list[dict[str, Any]]:
    """Every deployed process with its versions, newest first, each with its instances by status.

    Three queries whatever the number of versions or instances: the definitions, their file
    names (not the XML), and one GROUP BY over process_instance.
    """
    _user(ctx, username, VIEW_ROLES)
    counts: dict[int, dict[str, int]] = {}
    rows = ctx.session.execute(
        select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
        .group_by(ProcessInstance.definition_id, ProcessInstance.status))
    for definition_id, status, count in rows:
        counts.setdefault(definition_id, {})[getattr(status, "value", status)] = count
    files: dict[int, list[dict[str, str]]] = {}
    for definition_id, filename, kind in ctx.session.execute(
            select(DefinitionFile.definition_id, DefinitionFile.filename, DefinitionFile.kind).order_by(DefinitionFile.id)):
        files.setdefault(definition_id, []).append({"filename": filename, "kind": kind})
    processes: dict[str, dict[str, Any]] = {}
    for d in ctx.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                    ProcessDefinition.version.desc())):
        by_status = counts.get(d.id, {})
        process = processes.setdefault(d.process_id, {"process_id": d.process_id, "name": d.name, "versions": []})
        process["versions"].append({
            **_summary(d), "files": files.get(d.id, []), "instances": by_status,
            "instances_total": sum(by_status.values()),
            "instances_active": sum(by_status.get(s, 0) for s in ("running", "waiting", "error", "suspended")),
        })
    return list(processes.values())


def _summary(d: ProcessDefinition) -> dict[str, Any]:
    return {"id": d.id, "process_id": d.process_id, "name": d.name, "version": d.version, "deployed_by": d.deployed_by,
            "deployed_at": d.deployed_at, "hash": d.content_hash}


def _definition(ctx: Context, process_id: str, version: int | None = None) -> ProcessDefinition:
    """A version of a process; the newest when version is None."""
    if version is None:
        version = ctx.session.scalar(select(func.max(ProcessDefinition.version))
                                     .where(ProcessDefinition.process_id == process_id))
    definition = ctx.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.process_id == process_id, ProcessDefinition.version == version)).first()
    if definition is None:
        raise NotFound(f"process {process_id!r} has no version {version}")
    return definition


def show_definition(ctx: Context, username: str, process_id: str, version: int) -> dict[str, Any]:
    """One version with its files (XML included) and the list of all versions."""
    _user(ctx, username, VIEW_ROLES)
    d = _definition(ctx, process_id, version)
    versions = ctx.session.execute(select(ProcessDefinition.id, ProcessDefinition.version)
                                   .where(ProcessDefinition.process_id == d.process_id)
                                   .order_by(ProcessDefinition.version)).all()
    return {**_summary(d), "files": [{"filename": f.filename, "kind": f.kind, "content": f.content} for f in d.files],
            "main_file": _main_file(d).filename,
            "versions": [{"id": i, "version": v} for i, v in versions],
            "can_deploy": can_deploy(ctx, username)}


def definition_file(ctx: Context, username: str, process_id: str, version: int, filename: str) -> dict[str, str]:
    _user(ctx, username, VIEW_ROLES)
    for f in _definition(ctx, process_id, version).files:
        if f.filename == filename:
            return {"filename": f.filename, "kind": f.kind, "content": f.content}
    raise NotFound(f"version {version} of {process_id!r} has no file {filename!r}")


def _holds_process(content: str, process_id: str) -> bool:
    try:
        root = etree.fromstring(content.encode(), _XML_PARSER)
    except etree.XMLSyntaxError:
        return False
    return any(p.get("id") == process_id for p in root.iterfind(f"{{{BPMN_NS}}}process"))


def _main_file(d: ProcessDefinition) -> DefinitionFile:
    for f in d.files:
        if f.kind == "bpmn" and _holds_process(f.content, d.process_id):
            return f
    return d.files[0]


def modeler_data(ctx: Context, username: str, process_id: str | None, version: int | None,
                 filename: str | None) -> dict[str, Any]:
    """What the modeler page needs: the file to edit (the version's main BPMN file unless
    another is named; nothing for a new diagram) and the known forms, for the designer only."""
    _user(ctx, username, DEPLOY_ROLES)
    registry = ctx.runtime.forms
    data: dict[str, Any] = {"forms": [{"key": k, "title": registry.get(k).title} for k in sorted(registry.keys())],
                            "file": None}
    if process_id is not None:
        d = _definition(ctx, process_id, version)
        filename = filename or _main_file(d).filename
        f = next((f for f in _process_files(d) if f.filename == filename), None)
        if f is None:
            raise NotFound(f"version {d.version} of {process_id!r} has no file {filename!r}")
        data.update(name=d.name, version=d.version, file={"filename": f.filename, "kind": f.kind, "content": f.content},
                    files=[{"filename": x.filename, "kind": x.kind} for x in _process_files(d)])
    return data


def _process_files(d: ProcessDefinition) -> list[DefinitionFile]:
    """The files a version's process runs on: its BPMN file and the DMN files (other BPMN files
    in the same upload belong to other processes)."""
    main = _main_file(d)
    return [f for f in d.files if f.kind == "dmn" or f.filename == main.filename]


# --- diff ----------------------------------------------------------------------------------
@dataclass
class _Element:
    id: str
    type: str
    fields: dict[str, str]


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: Any) -> str:
    return (element.text or "").strip()


def _lanes(root: Any) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            name, role = lane.get("name") or lane.get("id") or "", lane_role(lane)
            # A lane's role is what routes its tasks: a change of role alone is a change too.
            lanes[_text(ref)] = name if role in (None, name) else f"{name}（{role}）"
    return lanes


def _describe(element: Any, lanes: dict[str, str], nested: set[Any]) -> _Element:
    fields: dict[str, str] = {}
    if element.get("name") is not None:
        fields["name"] = element.get("name") or ""
    for key, value in element.attrib.items():
        name = _local(key) if key.startswith("{") else key
        if key not in ("id", "name"):
            fields[f"@{name}"] = value
    if element.get("id") in lanes:
        fields["lane"] = lanes[element.get("id")]

    def walk(node: Any, path: str) -> None:
        seen: dict[str, int] = {}
        repeated = {t for t in (c.tag for c in node if isinstance(c.tag, str))
                    if sum(1 for c in node if c.tag == t) > 1}
        for child in node:
            if not isinstance(child.tag, str) or child in nested:
                continue
            tag = _local(child.tag)
            ns = etree.QName(child.tag).namespace
            if tag in ("incoming", "outgoing", "flowNodeRef"):
                continue
            if ns == SPIFF_NS and tag == "property":
                fields[f"property {child.get('name')}"] = child.get("value") or ""
                continue
            if ns == SPIFF_NS and tag == "parameter":
                fields[f"parameter {child.get('id')}"] = f"{child.get('value') or ''} ({child.get('type') or ''})"
                continue
            if tag == "conditionExpression":
                fields["condition"] = _text(child)
                continue
            if tag in ("timeDate", "timeDuration", "timeCycle"):
                fields[f"timer {tag}"] = _text(child)
                continue
            if tag == "script":
                fields["script"] = (child.text or "").strip()
                continue
            if tag in ("preScript", "postScript", "calledDecisionId", "documentation"):
                fields[tag] = (child.text or "").strip()
                continue
            here = f"{path}/{tag}" if path else tag
            if child.tag in repeated:
                seen[tag] = seen.get(tag, 0) + 1
                here = f"{here}[{seen[tag]}]"
            if tag.endswith("EventDefinition"):
                fields.setdefault("event", tag)
            for key, value in child.attrib.items():
                if key not in ("id",) and key != XSI_TYPE:
                    fields[f"{here}@{_local(key) if key.startswith('{') else key}"] = value
            if len(child) == 0 and _text(child):
                fields[here] = _text(child)
            walk(child, here)

    walk(element, "")
    return _Element(element.get("id"), _local(element.tag), fields)


def _elements(content: str) -> dict[str, _Element]:
    """The diffable elements of one BPMN or DMN file by id (diagram interchange left out)."""
    root = etree.fromstring(content.encode(), _XML_PARSER)
    found: list[Any] = []
    if etree.QName(root).namespace == BPMN_NS:
        lanes = _lanes(root)
        containers = [root]
        while containers:
            container = containers.pop()
            for child in container:
                if not isinstance(child.tag, str) or etree.QName(child.tag).namespace != BPMN_NS:
                    continue
                tag = _local(child.tag)
                if tag == "laneSet":
                    found.extend(child.iter(f"{{{BPMN_NS}}}lane"))
                    continue
                if tag in _NOT_ELEMENTS or not child.get("id"):
                    continue
                found.append(child)
                if tag in ("process", "subProcess", "collaboration", "adHocSubProcess", "transaction"):
                    containers.append(child)
    else:
        lanes = {}
        found = [e for e in root.iter() if isinstance(e.tag, str) and _local(e.tag) in _DMN_ELEMENTS and e.get("id")]
    nested = set(found)
    elements: dict[str, _Element] = {}
    for element in found:
        described = _describe(element, lanes, nested)
        if _local(element.tag) in ("process", "subProcess", "collaboration"):
            # a container's own attributes only, not its contents
            described.fields = {k: v for k, v in described.fields.items() if k == "name" or k.startswith("@")}
        elements[described.id] = described
    return elements


def diff_xml(old: str, new: str) -> dict[str, list[dict[str, Any]]]:
    """Element-level difference between two BPMN (or two DMN) files.

    Returns added and removed elements (id, type, name) and changed ones with each changed
    field (name, type, attributes such as sourceRef or default, lane, condition, timer
    expressions, scripts, spiffworkflow properties and parameters, and the like).
    """
    before, after = _elements(old), _elements(new)
    added = [{"id": i, "type": e.type, "name": e.fields.get("name", "")} for i, e in after.items() if i not in before]
    removed = [{"id": i, "type": e.type, "name": e.fields.get("name", "")} for i, e in before.items() if i not in after]
    changed = []
    for element_id, a in after.items():
        b = before.get(element_id)
        if b is None:
            continue
        changes = []
        if a.type != b.type:
            changes.append({"field": "type", "old": b.type, "new": a.type})
        for key in sorted(set(a.fields) | set(b.fields)):
            if a.fields.get(key) != b.fields.get(key):
                changes.append({"field": key, "old": b.fields.get(key), "new": a.fields.get(key)})
        if changes:
            changed.append({"id": element_id, "type": a.type, "name": a.fields.get("name", "") or b.fields.get("name", ""),
                            "changes": changes})
    return {"added": added, "removed": removed, "changed": changed}


def diff_versions(ctx: Context, username: str, process_id: str, old_version: int | None = None,
                  new_version: int | None = None) -> dict[str, Any]:
    """The difference between two versions of a process, file by file (files matched by name;
    the process's own BPMN file and the DMN files).

    By default the newest version against the one before it (or itself when there is one).
    """
    _user(ctx, username, VIEW_ROLES)
    new = _definition(ctx, process_id, new_version)
    old = _definition(ctx, process_id, old_version if old_version is not None else max(new.version - 1, 1))
    old_files = {f.filename: f for f in _process_files(old)}
    new_files = {f.filename: f for f in _process_files(new)}
    files = []
    for filename in sorted(set(old_files) | set(new_files)):
        o, n = old_files.get(filename), new_files.get(filename)
        entry: dict[str, Any] = {"filename": filename, "kind": (n or o).kind,  # type: ignore[union-attr]
                                 "old": o.content if o else None, "new": n.content if n else None}
        if o is not None and n is not None:
            entry.update(diff_xml(o.content, n.content) if o.content != n.content else
                         {"added": [], "removed": [], "changed": []})
            entry["status"] = "changed" if o.content != n.content else "same"
        else:
            entry.update({"added": [], "removed": [], "changed": []})
            entry["status"] = "added" if o is None else "removed"
        files.append(entry)
    versions = list(ctx.session.scalars(select(ProcessDefinition.version)
                                        .where(ProcessDefinition.process_id == process_id).order_by(ProcessDefinition.version)))
    return {"process_id": process_id, "old": _summary(old), "new": _summary(new), "files": files,
            "main_file": _main_file(new).filename, "versions": versions}


# --- validate and deploy -------------------------------------------------------------------
EditBase = tuple[str, int] | None  # (process_id, version) an edit starts from; None for a new diagram


def _bundle(ctx: Context, base: EditBase, filename: str, content: str) -> list[tuple[str, str]]:
    if base is None:
        return [(filename, content)] + _decisions_called_by(ctx, filename, content)
    d = _definition(ctx, *base)
    kept = _process_files(d)
    if filename not in {f.filename for f in kept}:
        raise NotFound(f"version {d.version} of {d.process_id!r} has no file {filename!r}")
    return [(f.filename, content if f.filename == filename else f.content) for f in kept]


def _decisions_called_by(ctx: Context, filename: str, content: str) -> list[tuple[str, str]]:
    """For a new diagram: the newest deployed DMN files defining the decisions it calls."""
    try:
        root = etree.fromstring(content.encode(), _XML_PARSER)
    except etree.XMLSyntaxError:
        return []  # validation reports it
    wanted = {(e.text or "").strip() for e in root.iter(f"{{{SPIFF_NS}}}calledDecisionId")}
    found: dict[str, str] = {}
    if not wanted:
        return []
    rows = ctx.session.execute(select(DefinitionFile.filename, DefinitionFile.content)
                               .where(DefinitionFile.kind == "dmn").order_by(DefinitionFile.id.desc()))
    for dmn_name, dmn in rows:
        if dmn_name in found or dmn_name == filename:
            continue
        ids = {d.get("id") for d in etree.fromstring(dmn.encode(), _XML_PARSER).iter() if _local(d.tag) == "decision"}
        if ids & wanted:
            found[dmn_name] = dmn
            wanted -= ids
        if not wanted:
            break
    return sorted(found.items())


def validate_edit(ctx: Context, username: str, base: EditBase, filename: str, content: str) -> list[dict[str, str]]:
    """What engine.validation finds in a version with one file replaced ([] when deployable)."""
    _user(ctx, username, DEPLOY_ROLES)
    files = _bundle(ctx, base, filename, content)
    return check_bundle(files, ctx.runtime.compile_script, ctx.runtime.forms.keys()).problems


def deploy_edit(ctx: Context, username: str, base: EditBase, filename: str, content: str) -> list[dict[str, Any]]:
    """Deploy a version with one file replaced (or a new file alone when base is None).

    :raises errors.DefinitionRejected: with every problem and its element id; nothing is stored.
    """
    _user(ctx, username, DEPLOY_ROLES)
    return deploy_files(ctx, username, _bundle(ctx, base, filename, content))


def _file_name(name: str) -> str:
    """An uploaded file's name as stored: no folders, at most 200 characters, never empty."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:190] + dot + ext[:9]) if dot else base[:200]
    return base or "diagram.bpmn"


def deploy_files(ctx: Context, username: str, files: list[tuple[str, str | bytes]]) -> list[dict[str, Any]]:
    """Deploy uploaded BPMN/DMN files together; each executable process in them gets a new version.

    :raises errors.DefinitionRejected: with every problem; nothing is stored.
    """
    _user(ctx, username, DEPLOY_ROLES)
    files = [(_file_name(name), content) for name, content in files]
    previous = {d.process_id: d.version for d in ctx.session.scalars(select(ProcessDefinition))}
    deployed = deploy(ctx.session, files, username, ctx.now, ctx.runtime.compile_script,
                      ctx.runtime.forms.keys(), ctx.hash_alg)
    return [{**_summary(d), "unchanged": previous.get(d.process_id, 0) >= d.version} for d in deployed]


# --- forms ---------------------------------------------------------------------------------
def list_forms(ctx: Context, username: str) -> list[dict[str, Any]]:
    """The forms task pages use (forms/) and, per key, the newest saved draft."""
    _user(ctx, username, VIEW_ROLES)
    drafts = {}
    for key, version, saved_by, saved_at in ctx.session.execute(
            select(FormDraft.key, FormDraft.version, FormDraft.saved_by, FormDraft.saved_at).order_by(FormDraft.key,
                                                                                                   FormDraft.version)):
        drafts[key] = {"version": version, "saved_by": saved_by, "saved_at": saved_at}
    registry = ctx.runtime.forms
    keys = sorted(registry.keys() | set(drafts))
    return [{"key": k, "title": registry.get(k).title if k in registry.keys() else "",
             "live": k in registry.keys(), "draft": drafts.get(k)} for k in keys]


def form_keys(ctx: Context, username: str) -> list[dict[str, str]]:
    """The known forms (key and title), for the modeler's form picker."""
    _user(ctx, username, VIEW_ROLES)
    registry = ctx.runtime.forms
    return [{"key": k, "title": registry.get(k).title} for k in sorted(registry.keys())]


def show_form(ctx: Context, username: str, key: str, version: int | None = None) -> dict[str, Any]:
    """A form's JSON text: the given draft version, else the newest draft, else the live file."""
    _user(ctx, username, VIEW_ROLES)
    query = select(FormDraft).where(FormDraft.key == key)
    query = query.where(FormDraft.version == version) if version else query.order_by(FormDraft.version.desc())
    draft = ctx.session.scalars(query.limit(1)).first()
    versions = [{"version": v, "saved_by": by, "saved_at": at} for v, by, at in ctx.session.execute(
        select(FormDraft.version, FormDraft.saved_by, FormDraft.saved_at).where(FormDraft.key == key)
        .order_by(FormDraft.version.desc()))]
    live = key in ctx.runtime.forms.keys()
    live_text = json.dumps(ctx.runtime.forms.get(key).to_dict(), ensure_ascii=False, indent=2) if live else None
    if draft is None and version:
        raise NotFound(f"form {key!r} has no draft version {version}")
    if draft is None and not live:
        raise NotFound(f"form {key!r} does not exist")
    return {"key": key, "live": live, "live_text": live_text, "versions": versions,
            "version": draft.version if draft else None,
            "text": draft.content if draft else live_text, "can_edit": can_deploy(ctx, username)}


def check_form(key: str, text: str) -> dict[str, Any]:
    """Parse and check a form definition as FormRegistry would load it.

    :raises ValidationFailed: with the reason under "content".
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed("not JSON", {"content": f"JSON: {exc}"}) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("schema"), dict):
        raise ValidationFailed("no schema", {"content": "a form needs an object with a \"schema\" object"})
    schema = raw["schema"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValidationFailed("bad schema", {"content": f"JSON Schema: {exc.message}"}) from None
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise ValidationFailed("bad schema", {"content": "the schema must be an object with properties"})
    ui = raw.get("ui", {})
    if not isinstance(ui, dict):
        raise ValidationFailed("bad ui", {"content": "\"ui\" must be an object"})
    unknown = [n for n in ui.get("order", []) if n not in schema["properties"]]
    if unknown:
        raise ValidationFailed("bad order", {"content": f"ui.order names fields the schema lacks: {', '.join(map(str, unknown))}"})
    return {"key": key, "title": raw.get("title", key), "schema": schema, "ui": ui}


def save_form_draft(ctx: Context, username: str, key: str, text: str) -> dict[str, Any]:
    """Store a checked form definition as the next draft version of `key`.

    :raises ValidationFailed: the key or the definition is invalid; nothing is stored.
    """
    _user(ctx, username, DEPLOY_ROLES)
    if not key or not key.replace("_", "").isalnum() or not key.isascii() or len(key) > 64:
        raise ValidationFailed("bad key", {"key": "letters, digits and _ only"})
    check_form(key, text)
    last = ctx.session.scalar(select(func.max(FormDraft.version)).where(FormDraft.key == key)) or 0
    draft = FormDraft(key=key, version=last + 1, content=text, saved_by=username, saved_at=ctx.now)
    ctx.session.add(draft)
    ctx.session.flush()
    return {"key": key, "version": draft.version}


__all__ = ["VIEW_ROLES", "DEPLOY_ROLES", "list_definitions", "show_definition", "definition_file",
           "diff_xml", "diff_versions", "validate_edit", "deploy_edit", "deploy_files", "list_forms", "form_keys",
           "show_form", "check_form", "save_form_draft"]
