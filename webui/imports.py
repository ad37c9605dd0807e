"""问题清单导入: the Excel template, upload → preview of every bad cell → import all rows or none.

The previewed file waits in `<instance>/imports/<token>.xlsx` (the token is random hex, from
a hidden field, and is checked to be hex and to belong to the user who uploaded it). The
import itself runs in a background thread in one engine transaction, reporting progress to
`_jobs`, which GET /imports/progress/<token> reads. One process (waitress) is assumed: a
preview made before a restart must be uploaded again.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask_login import current_user, login_required

from engine import Engine, access
from engine.context import Context
from engine.db.models import Role
from engine.errors import EngineError, NotFound
from engine.problem_list import KEEP, SKIP, ProblemListInvalid, import_problem_list, preview_problem_list, template_xlsx

from .db import engine

log = logging.getLogger(__name__)
bp = Blueprint("imports", __name__, url_prefix="/imports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600  # previews never confirmed, and finished jobs, are forgotten after a day


@dataclass
class Job:
    """One previewed file: who uploaded it, and how its import is going."""

    user: str
    total: int
    state: str = "previewed"  # previewed → running → done | invalid | failed
    done: int = 0
    imported: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    message: str = ""
    touched: float = field(default_factory=time.monotonic)
    decisions: dict[int, str] = field(default_factory=dict)  # Excel row → skip | keep, from the preview page
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "invalid", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "state": self.state, "imported": self.imported,
                "errors": self.errors, "error_count": self.error_count, "message": self.message,
                "skipped": self.skipped}


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.config.setdefault("IMPORT_DIR", os.path.join(app.instance_path, "imports"))


def _import_dir() -> Path:
    return Path(current_app.config.get("IMPORT_DIR") or os.path.join(current_app.instance_path, "imports"))


def _file_of(token: str) -> Path:
    if not TOKEN.fullmatch(token):  # the only part of the path the client gives
        raise NotFound("no such import")
    return _import_dir() / f"{token}.xlsx"


def _forget_old() -> None:
    """Drop finished or abandoned jobs and leftover files older than KEEP_SECONDS."""
    now = time.monotonic()
    with _lock:
        for token in [t for t, j in _jobs.items() if j.state != "running" and now - j.touched > KEEP_SECONDS]:
            del _jobs[token]
    directory = _import_dir()
    if directory.is_dir():
        cutoff = time.time() - KEEP_SECONDS
        for path in directory.glob("*.xlsx"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


def _check_office(ctx: Context, username: str) -> None:
    access.require_role(access.get_user(ctx.session, username), Role.office)


def _require_office() -> None:
    """:raises Forbidden: only the office imports (the engine's rule, asked before anything is read)."""
    engine().run(_check_office, current_user.username)


def _job_of(token: str) -> Job:
    """The user's own job. :raises NotFound: bad token, unknown, or another user's."""
    job = _jobs.get(token) if TOKEN.fullmatch(token) else None
    if job is None or job.user != current_user.username:
        raise NotFound("no such import (it may have expired: upload the file again)")
    return job


@bp.route("/")
@login_required
def index() -> Any:
    _require_office()
    return render_template("imports/index.html")


@bp.route("/template.xlsx")
@login_required
def template() -> Any:
    _require_office()
    return Response(template_xlsx(engine().runtime.forms), mimetype=XLSX, headers={
        "Content-Disposition": "attachment; filename=problem-list-template.xlsx; "
                               "filename*=UTF-8''%E9%97%AE%E9%A2%98%E6%B8%85%E5%8D%95%E6%A8%A1%E6%9D%BF.xlsx",
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@bp.route("/preview", methods=["POST"])
@login_required
def preview() -> Any:
    _require_office()
    upload = request.files.get("file")
    content = upload.read() if upload is not None else b""
    filename = (upload.filename or "") if upload is not None else ""
    result = engine().run(preview_problem_list, current_user.username, content)
    token = None
    if result.ok:
        _forget_old()
        token = secrets.token_hex(16)
        path = _file_of(token)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        with _lock:
            _jobs[token] = Job(user=current_user.username, total=len(result.rows))
    return render_template("imports/preview.html", preview=result, token=token, filename=filename,
                           skip_by_default=sum(w["default"] == SKIP for w in result.duplicates)), \
        200 if result.ok else 422


def _run(eng: Engine, token: str, job: Job, path: Path) -> None:
    """The import, in its own thread and its own transaction: every row or none."""
    def progress(done: int, total: int) -> None:
        job.done, job.total, job.touched = done, total, time.monotonic()

    try:
        content = path.read_bytes()
        result = eng.run(import_problem_list, job.user, content, progress=progress, decisions=job.decisions)
    except ProblemListInvalid as exc:
        job.errors, job.error_count = exc.preview.errors, max(exc.preview.error_count, len(exc.preview.errors))
        job.done, job.state = 0, "invalid"
    except EngineError as exc:
        job.message, job.done, job.state = str(exc), 0, "failed"
    except Exception:  # noqa: BLE001 - reported on the page; the transaction rolled back
        log.exception("problem-list import %s failed", token)
        job.message, job.done, job.state = "internal error; nothing was imported", 0, "failed"
    else:
        job.imported, job.skipped = result["imported"], result["skipped"]
        job.done, job.state = result["imported"] + len(result["skipped"]), "done"
    finally:
        job.touched = time.monotonic()
        try:
            path.unlink()
        except OSError:
            pass


def _decisions() -> dict[int, str]:
    """The preview page's per-row choices (`decision-<row>` = skip | keep); rows not named keep their default."""
    chosen = {}
    for name, value in request.form.items():
        row = name.removeprefix("decision-")
        if row != name and row.isdigit() and value in (SKIP, KEEP):
            chosen[int(row)] = value
    return chosen


@bp.route("/confirm", methods=["POST"])
@login_required
def confirm() -> Any:
    _require_office()
    token = request.form.get("token", "")
    job = _job_of(token)
    path = _file_of(token)
    with _lock:
        start = job.state == "previewed"
        if start:
            if not path.is_file():
                del _jobs[token]
                raise NotFound("the uploaded file is gone: upload it again")
            job.state, job.touched = "running", time.monotonic()
            job.decisions = _decisions()
    if start:  # a second click on the same preview shows the same import, it does not start another
        worker = threading.Thread(target=_run, args=(engine(), token, job, path), name=f"import-{token[:8]}",
                                  daemon=True)
        worker.start()
    return render_template("imports/progress.html", job=job, token=token)


@bp.route("/progress/<token>")
@login_required
def progress(token: str) -> Any:
    _require_office()
    job = _job_of(token)
    if request.headers.get("HX-Request") == "true":
        return render_template("imports/_progress.html", job=job, token=token)
    accept = request.accept_mimetypes
    if accept.best_match(["application/json", "text/html"]) == "text/html" \
            and accept["text/html"] > accept["application/json"]:
        return render_template("imports/progress.html", job=job, token=token)
    return jsonify(job.to_dict())
