"""The process designer (流程设计): deployed definitions and their versions, a diagram viewer,
version diff, the bpmn-js / dmn-js modeler with validate-then-deploy, and form drafts.

Every view calls one engine.designer function; roles are decided there (VIEW_ROLES see,
DEPLOY_ROLES change). The modeler posts its XML as JSON to /validate and /deploy and gets the
engine's problems back, each with its element id, which the page marks on the diagram.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import designer, vocabulary
from engine.errors import DefinitionRejected, ValidationFailed

from .db import engine
from .downloads import attachment

bp = Blueprint("designer", __name__, url_prefix="/designer")
NEW_DIAGRAM = "new_process.bpmn"


@bp.route("/")
@login_required
def index() -> Any:
    processes = engine().run(designer.list_definitions, current_user.username)
    return render_template("designer/index.html", processes=processes,
                           can_deploy=current_user.role in {r.value for r in designer.DEPLOY_ROLES})


@bp.route("/deploy", methods=["POST"])
@login_required
def deploy_upload() -> Any:
    """Deploy uploaded .bpmn/.dmn files together (the page without the modeler)."""
    files = [(f.filename or "upload.bpmn", f.read()) for f in request.files.getlist("files") if f.filename]
    if not files:
        flash(_("Choose at least one BPMN or DMN file."), "warning")
        return redirect(url_for("designer.index"))
    try:
        deployed = engine().run(designer.deploy_files, current_user.username, files)
    except DefinitionRejected as exc:
        return render_template("designer/rejected.html", problems=exc.problems,
                               filenames=[name for name, _content in files]), 422
    _flash_deployed(deployed)
    return redirect(url_for("designer.index"))


def _flash_deployed(deployed: list[dict[str, Any]]) -> None:
    for d in deployed:
        if d["unchanged"]:
            flash(_("%(process)s: identical to version %(version)s; nothing deployed.", process=d["process_id"],
                    version=d["version"]), "info")
        else:
            flash(_("%(process)s: version %(version)s deployed.", process=d["process_id"], version=d["version"]),
                  "success")


@bp.route("/processes/<process_id>/<int:version>")
@login_required
def show(process_id: str, version: int) -> Any:
    definition = engine().run(designer.show_definition, current_user.username, process_id, version)
    return render_template("designer/show.html", d=definition)


@bp.route("/processes/<process_id>/<int:version>/file/<filename>")
@login_required
def file(process_id: str, version: int, filename: str) -> Any:
    f = engine().run(designer.definition_file, current_user.username, process_id, version, filename)
    return attachment(f["content"], f"{process_id}-v{version}-{filename}")


@bp.route("/processes/<process_id>/diff")
@login_required
def diff(process_id: str) -> Any:
    old, new = request.args.get("old", type=int), request.args.get("new", type=int)
    result = engine().run(designer.diff_versions, current_user.username, process_id, old, new)
    return render_template("designer/diff.html", diff=result)


def _modeler(base: tuple[str, int] | None, filename: str | None) -> Any:
    data = engine().run(designer.modeler_data, current_user.username, base[0] if base else None,
                        base[1] if base else None, filename)
    if base is None:
        data["file"] = {"filename": NEW_DIAGRAM, "kind": "bpmn", "content": render_template("designer/new_process.bpmn")}
        data["title"] = _("New process")
    else:
        data["title"] = f"{data['name']} v{data['version']} · {data['file']['filename']}"
    urls = {"validate": url_for("designer.validate", process_id=base[0], version=base[1]) if base else
            url_for("designer.validate_new"),
            "deploy": url_for("designer.deploy", process_id=base[0], version=base[1]) if base else
            url_for("designer.deploy_new"),
            "spiff": url_for("static", filename="designer/spiffworkflow.json")}
    return render_template("designer/modeler.html", base=base, data=data, urls=urls, lane_labels=vocabulary.LANE,
                           migrations="migration.index" in current_app.view_functions)


@bp.route("/processes/<process_id>/<int:version>/edit")
@login_required
def edit(process_id: str, version: int) -> Any:
    return _modeler((process_id, version), request.args.get("file"))


@bp.route("/new")
@login_required
def new() -> Any:
    return _modeler(None, None)


def _posted() -> tuple[str, str]:
    body = request.get_json(silent=True) or {}
    return str(body.get("filename") or request.form.get("filename") or ""), str(body.get("xml") or request.form.get("xml") or "")


def _validate(base: tuple[str, int] | None) -> Any:
    filename, xml = _posted()
    problems = engine().run(designer.validate_edit, current_user.username, base, filename, xml)
    return jsonify({"ok": not problems, "problems": problems})


def _deploy(base: tuple[str, int] | None) -> Any:
    filename, xml = _posted()
    try:
        deployed = engine().run(designer.deploy_edit, current_user.username, base, filename, xml)
    except DefinitionRejected as exc:
        return jsonify({"ok": False, "problems": exc.problems}), 422
    _flash_deployed(deployed)
    for d in deployed:
        d["deployed_at"] = d["deployed_at"].isoformat()
        d["url"] = url_for("designer.show", process_id=d["process_id"], version=d["version"])
    return jsonify({"ok": True, "deployed": deployed})


@bp.route("/processes/<process_id>/<int:version>/validate", methods=["POST"])
@login_required
def validate(process_id: str, version: int) -> Any:
    return _validate((process_id, version))


@bp.route("/processes/<process_id>/<int:version>/deploy", methods=["POST"])
@login_required
def deploy(process_id: str, version: int) -> Any:
    return _deploy((process_id, version))


@bp.route("/new/validate", methods=["POST"])
@login_required
def validate_new() -> Any:
    return _validate(None)


@bp.route("/new/deploy", methods=["POST"])
@login_required
def deploy_new() -> Any:
    return _deploy(None)


# --- forms -----------------------------------------------------------------------------------
@bp.route("/forms/")
@login_required
def forms() -> Any:
    return render_template("designer/forms.html", forms=engine().run(designer.list_forms, current_user.username),
                           can_edit=current_user.role in {r.value for r in designer.DEPLOY_ROLES})


@bp.route("/forms/<key>", methods=["GET"])
@login_required
def form(key: str) -> Any:
    data = engine().run(designer.show_form, current_user.username, key, request.args.get("version", type=int))
    return _form_page(data, data["text"], {})


def _form_page(data: dict[str, Any], text: str, errors: dict[str, str], status: int = 200) -> Any:
    preview = None
    try:
        preview = designer.check_form(data["key"], text)
    except ValidationFailed:
        pass
    return render_template("designer/form.html", data=data, text=text, errors=errors, preview=preview), status


@bp.route("/forms/<key>", methods=["POST"])
@login_required
def save_form(key: str) -> Any:
    text = request.form.get("content", "")
    try:
        saved = engine().run(designer.save_form_draft, current_user.username, key, text)
    except ValidationFailed as exc:
        data = {"key": key, "live": False, "live_text": None, "versions": [], "version": None, "can_edit": True}
        return _form_page(data, text, exc.fields, 422)
    flash(_("Form %(key)s saved as draft version %(version)s.", key=key, version=saved["version"]), "success")
    return redirect(url_for("designer.form", key=key, version=saved["version"]))


@bp.route("/forms/new", methods=["POST"])
@login_required
def new_form() -> Any:
    key = request.form.get("key", "").strip()
    text = json.dumps({"key": key, "title": key, "schema": {"type": "object", "properties": {}}, "ui": {}},
                      ensure_ascii=False, indent=2)
    try:
        engine().run(designer.save_form_draft, current_user.username, key, text)
    except ValidationFailed as exc:
        flash(" ".join(exc.fields.values()), "danger")
        return redirect(url_for("designer.forms"))
    return redirect(url_for("designer.form", key=key))


@bp.route("/forms/<key>/preview", methods=["POST"])
@login_required
def preview_form(key: str) -> Any:
    """The form as the task page renders it (htmx swaps this fragment in while typing)."""
    engine().run(designer.form_keys, current_user.username)  # VIEW_ROLES only
    try:
        form_def = designer.check_form(key, request.form.get("content", ""))
    except ValidationFailed as exc:
        return render_template("designer/_preview.html", preview=None, error=exc.fields.get("content", str(exc)))
    return render_template("designer/_preview.html", preview=form_def, error=None)


@bp.route("/forms/<key>/download")
@login_required
def download_form(key: str) -> Any:
    data = engine().run(designer.show_form, current_user.username, key, request.args.get("version", type=int))
    return attachment(data["text"], f"{key}.json", "application/json")
