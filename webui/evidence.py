"""Evidence files of a clue (证据材料): the panel on the clue and task pages, upload, download.

The panel is loaded into those pages with htmx (GET /evidence/clue/<id>/panel) and has a
page of its own without JavaScript (GET /evidence/clue/<id>). Every check — who may see,
who may attach, what a file really is — is the engine's.
"""
from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from flask import (Blueprint, Response, current_app, flash, g, make_response, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import access
from engine import evidence as ev
from engine.clues import get_clue
from engine.context import Context
from engine.errors import EngineError, ValidationFailed

from .db import engine
from .redirects import safe_next

log = logging.getLogger(__name__)
bp = Blueprint("evidence", __name__, url_prefix="/evidence")
ACCEPT = ",".join(ext for exts in ev.EXTENSIONS.values() for ext in exts)


@bp.app_template_filter("filesize")
def filesize(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


def _panel_data(ctx: Context, username: str, clue_id: int) -> dict[str, Any]:
    """The clue's evidence and whether the user may add to it. :raises Forbidden, NotFound:"""
    items = ev.list_evidence(ctx, username, clue_id)  # checks that the user may see the clue
    user = access.get_user(ctx.session, username)
    clue = get_clue(ctx, clue_id)
    return {"clue_id": clue_id, "enterprise_name": clue.enterprise_name, "items": items,
            "may_attach": user.role in ev.ATTACHING_ROLES}


def _task_id_arg(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= 64 else None


def _panel(clue_id: int, **extra: Any) -> dict[str, Any]:
    panel = engine().run(_panel_data, current_user.username, clue_id)
    panel.update(max_bytes=getattr(engine().settings, "evidence_max_bytes", None) or ev.DEFAULT_MAX_BYTES,
                 accept=ACCEPT, hint=ev.ALLOWED_HINT, type_labels=ev.LABELS, error=None, notice=None,
                 task_id=None, next=None)
    panel.update(extra)
    return panel


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@bp.route("/clue/<int:clue_id>/panel")
@login_required
def panel(clue_id: int) -> Any:
    """The panel as a fragment, for the clue and task pages to load."""
    data = _panel(clue_id, task_id=_task_id_arg(request.args.get("task_id")),
                  next=safe_next(request.args.get("next")))
    return render_template("evidence/_list.html", panel=data)


@bp.route("/clue/<int:clue_id>")
@login_required
def clue(clue_id: int) -> Any:
    """The panel as a page of its own (for browsers without JavaScript)."""
    return render_template("evidence/clue.html", panel=_panel(clue_id, next=safe_next(request.args.get("next"))))


@bp.route("/clue/<int:clue_id>", methods=["POST"])
@login_required
def upload(clue_id: int) -> Any:
    upload_file = request.files.get("file")
    filename = (upload_file.filename or "") if upload_file is not None else ""
    content = upload_file.read() if upload_file is not None else b""
    task_id = _task_id_arg(request.form.get("task_id"))
    back = safe_next(request.form.get("next"))
    try:
        # An empty or missing file goes to the engine too: it checks who asks before what is sent.
        added = engine().run(ev.attach_evidence, current_user.username, clue_id, filename, content, task_id)
    except ValidationFailed as exc:
        message = exc.fields.get("file") or exc.fields.get("task_id") or str(exc)
        data = _panel(clue_id, error=message, task_id=task_id, next=back)
        if _is_htmx():
            return render_template("evidence/_list.html", panel=data), 422
        # Without JavaScript: the clue page, rendered by its own view, with the message in its panel.
        g.evidence_inline = data
        response = make_response(current_app.view_functions["clues.show"](clue_id=clue_id))
        response.status_code = 422
        return response
    notice = _("Attached %(name)s.", name=added["filename"])
    if _is_htmx():
        return render_template("evidence/_list.html", panel=_panel(clue_id, notice=notice, task_id=task_id,
                                                                     next=back))
    flash(notice, "success")
    return redirect(back or url_for("clues.show", clue_id=clue_id))


@bp.route("/<int:evidence_id>")
@login_required
def download(evidence_id: int) -> Any:
    try:
        summary, content = engine().run(ev.open_evidence, current_user.username, evidence_id)
    except EngineError as exc:
        if type(exc) is not EngineError:  # Forbidden, NotFound: the app's error pages
            raise
        log.error("evidence %s could not be served: %s", evidence_id, exc)
        return render_template("evidence/damaged.html", evidence_id=evidence_id), 409
    response: Response = send_file(BytesIO(content), mimetype=summary["media_type"], as_attachment=True,
                                   download_name=summary["filename"], etag=False, conditional=False,
                                   last_modified=None, max_age=None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
