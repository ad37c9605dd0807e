"""The task page: the clue so far, earlier steps read-only, and the task's form."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import clues, tasks
from engine.errors import ConfirmationRequired, Conflict, ValidationFailed
from engine.ledger import LABELS

from .db import engine
from .drafts import kept_fields, keeps_typed_work, values_of
from .errors import user_message
from .formdata import CONFIRM_FIELD, form_to_data

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _page(task: dict[str, Any], values: dict[str, Any], errors: dict[str, str], conflict: str | None = None,
          status: int = 200, warnings: dict[str, str] | None = None) -> Any:
    clue = engine().run(clues.view_clue, current_user.username, task["clue_id"]) if task.get("clue_id") else None
    return render_template("tasks/show.html", task=task, clue=clue, values=values, errors=errors,
                           conflict=conflict, labels=LABELS, warnings=warnings or {}), status


@bp.route("/<task_id>", methods=["GET"])
@login_required
def show(task_id: str) -> Any:
    try:
        task = engine().run(tasks.show_task, task_id, current_user.username)
    except Conflict:
        clue_id = engine().run(tasks.clue_of_finished_task, task_id, current_user.username)
        if clue_id is None:
            raise
        # The clue is where the work goes on; its record says who did the task and when.
        flash(_("This task has already been done; here is its clue."), "info")
        return redirect(url_for("clues.show", clue_id=clue_id))
    kept = kept_fields() if task.get("may_complete") else None
    if kept is not None:
        return _page(task, values_of(task["form"]["schema"], kept) if task.get("form") else {}, {})
    # A task done before (a report sent back) starts from the last submission.
    values = dict(task["previous"]["values"] or {}) if task.get("previous") else {}
    return _page(task, values, {})


@bp.route("/<task_id>", methods=["POST"])
@login_required
@keeps_typed_work
def complete(task_id: str) -> Any:
    try:
        task = engine().run(tasks.show_task, task_id, current_user.username)
    except Conflict as exc:
        # The task is gone: say who handled it (or that it was this user's own earlier submit) and
        # keep what was typed on screen.
        current_app.logger.info("task %s gone: %s", task_id, exc)
        flash(user_message(exc, 409), "warning")
        return render_template("tasks/gone.html", values=request.form.to_dict()), 409
    data = form_to_data(task["form"]["schema"], request.form, task["form"]["ui"]) if task.get("form") else {}
    try:
        engine().run(tasks.complete_task, task_id, current_user.username, data,
                     request.form.get(CONFIRM_FIELD) == "1")
    except ConfirmationRequired as exc:
        return _page(task, {**request.form.to_dict(), **data}, {}, status=422, warnings=exc.fields)
    except ValidationFailed as exc:
        return _page(task, {**request.form.to_dict(), **data}, exc.fields, status=422)
    except Conflict as exc:
        current_app.logger.info("task %s conflict: %s", task_id, exc)
        return _page(task, {**request.form.to_dict(), **data}, {}, conflict=user_message(exc, 409), status=409)
    flash(_("Submitted: %(title)s", title=task["title"]), "success")
    return redirect(url_for("inbox.index"))
