"""版本迁移: move running instances of a process to another deployed version (engine/version_migration.py).

Pick a process and two versions, read the dry run (which instances can move and why the others
cannot), select instances and migrate them, follow the batch, and undo a move from the log.
Designers and administrators only (the engine checks). The batch runs in a background thread,
one transaction per instance, reporting to `_jobs`, which GET /migrations/progress/<token>
reads (the pattern of webui/imports.py; one process is assumed).
"""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import Engine
from engine import version_migration as vm
from engine.errors import EngineError, NotFound, ValidationFailed
from engine.ledger import LABELS

from .db import engine

log = logging.getLogger(__name__)
bp = Blueprint("migration", __name__, url_prefix="/migrations")
TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600


@dataclass
class Job:
    user: str
    process_id: str
    to_version: int
    total: int
    done: int = 0
    moved: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    state: str = "running"  # running → done | failed
    message: str = ""
    touched: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> bool:
        return self.state != "running"


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def reason_text(reason: dict[str, Any]) -> str:
    """A dry-run reason (engine code + element) as people read it."""
    element = reason.get("element_id") or ""
    if reason.get("element_name"):
        element = f"{reason['element_name']}（{element}）" if element else reason["element_name"]
    texts = {
        "same_version": _("Already on the target version."),
        "finished": _("The instance has finished."),
        "error": _("The instance stopped with an error at %(element)s; repair it first.", element=element),
        "wrong_version": _("The instance is on another version."),
        "task_missing": _("Task %(element)s is active here and does not exist in the new version.", element=element),
        "history_missing": _("Completed step %(element)s does not exist in the new version, so its record could not "
                             "be kept.", element=element),
        "type_changed": _("%(element)s has another element type in the new version.", element=element),
        "subprocess_running": _("Sub-process %(element)s is running.", element=element),
        "multi_instance_running": _("Multi-instance activity %(element)s is running.", element=element),
        "data_missing": _("The new version needs data this instance does not have (%(element)s).", element=element),
        "failed": _("The move could not be verified."),
    }
    return texts.get(reason.get("code", ""), reason.get("message", ""))


def may_migrate() -> bool:
    """Whether the signed-in user may open this page: the engine's list of roles, so a link never leads to a 403."""
    return bool(current_user.is_authenticated) and current_user.role in {role.value for role in vm.MIGRATORS}


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"may_migrate": may_migrate})  # the designer's tabs link here


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"stage_labels": LABELS["stage"]}


@bp.app_template_filter("migration_reason")
def _reason_filter(reason: dict[str, Any]) -> str:
    return reason_text(reason)


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("migration/index.html", **engine().run(vm.migration_page, current_user.username),
                           chosen={})


def _int(name: str, errors: dict[str, str]) -> int | None:
    raw = request.values.get(name, "").strip()
    if not raw.isdigit():
        errors[name] = _("Choose a version.")
        return None
    return int(raw)


@bp.route("/dry-run")
@login_required
def dry_run() -> Any:
    process_id = request.args.get("process_id", "").strip()
    if not process_id:  # nothing chosen yet: the picker
        return index()
    errors: dict[str, str] = {}
    chosen = {"process_id": process_id, "from_version": _int("from_version", errors),
              "to_version": _int("to_version", errors)}
    try:
        if errors:
            raise ValidationFailed("bad versions", errors)
        data = engine().run(vm.migration_page, current_user.username, chosen)
    except (ValidationFailed, NotFound) as exc:
        flash(" ".join(getattr(exc, "fields", {}).values()) or str(exc), "danger")
        return render_template("migration/index.html", **engine().run(vm.migration_page, current_user.username),
                               chosen=chosen), 422 if isinstance(exc, ValidationFailed) else 404
    return render_template("migration/index.html", **data, chosen=chosen)


def _run(eng: Engine, job: Job, instance_ids: list[int], from_version: int) -> None:
    def progress(done: int, total: int, item: dict[str, Any]) -> None:
        job.done, job.touched = done, time.monotonic()
        if "reasons" in item:
            job.refused.append(item)
        else:
            job.moved += 1

    try:
        vm.migrate_many(eng.run, job.user, instance_ids, job.to_version, from_version, progress=progress)
        job.state = "done"
    except Exception:  # noqa: BLE001 - shown on the page; each finished instance stays migrated
        log.exception("migration batch of %s failed", job.user)
        job.state, job.message = "failed", "internal error"
    job.touched = time.monotonic()


def _forget_old() -> None:
    now = time.monotonic()
    with _lock:
        for token in [t for t, j in _jobs.items() if j.finished and now - j.touched > KEEP_SECONDS]:
            del _jobs[token]


@bp.route("/run", methods=["POST"])
@login_required
def run() -> Any:
    process_id = request.form.get("process_id", "")
    errors: dict[str, str] = {}
    from_version, to_version = _int("from_version", errors), _int("to_version", errors)
    ids = [int(v) for v in request.form.getlist("instance_id") if v.isdigit()]
    # Asked before the thread starts: a refusal is the page's answer, not the batch's.
    engine().run(vm.process_versions, current_user.username)
    if errors or not ids or from_version is None or to_version is None:
        flash(_("Select at least one instance to migrate."), "warning")
        return redirect(url_for(".dry_run", process_id=process_id, from_version=from_version or "",
                                to_version=to_version or ""))
    _forget_old()
    token = secrets.token_hex(16)
    job = Job(user=current_user.username, process_id=process_id, to_version=to_version, total=len(ids))
    with _lock:
        _jobs[token] = job
    threading.Thread(target=_run, args=(engine(), job, ids, from_version), name=f"migration-{token[:8]}",
                     daemon=True).start()
    return render_template("migration/progress.html", job=job, token=token)


@bp.route("/progress/<token>")
@login_required
def progress(token: str) -> Any:
    job = _jobs.get(token) if TOKEN.fullmatch(token) else None
    if job is None or job.user != current_user.username:
        raise NotFound("no such migration batch")
    template = "migration/_progress.html" if request.headers.get("HX-Request") == "true" else "migration/progress.html"
    return render_template(template, job=job, token=token)


@bp.route("/<int:migration_id>/undo", methods=["POST"])
@login_required
def undo(migration_id: int) -> Any:
    try:
        undone = engine().run(vm.undo_migration, current_user.username, migration_id)
    except EngineError as exc:
        if exc.code == "forbidden":
            raise
        flash(str(exc), "danger")
    else:
        flash(_("Instance %(id)s is back on version %(version)s.", id=undone["instance_id"],
                version=undone["from_version"]), "success")
    return redirect(url_for(".index"))
