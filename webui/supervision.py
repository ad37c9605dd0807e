"""Supervision by hand on the clue page: the office's supervision notice (督办单) and listing a
clue for supervision (挂牌督办). The panel is loaded into the clue page with htmx
(GET /supervision/clue/<id>/panel) and has a page of its own without JavaScript."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import ladder
from engine.errors import ValidationFailed

from .db import engine

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


@bp.route("/clue/<int:clue_id>/panel")
@login_required
def panel(clue_id: int) -> Any:
    data = engine().run(ladder.supervision_of, current_user.username, clue_id)
    return render_template("supervision/panel.html", supervision=data)


@bp.route("/clue/<int:clue_id>")
@login_required
def clue(clue_id: int) -> Any:
    data = engine().run(ladder.supervision_of, current_user.username, clue_id)
    return render_template("supervision/clue.html", supervision=data)


def _refused(exc: ValidationFailed) -> None:
    flash(" ".join(exc.fields.values()) or str(exc), "danger")


@bp.route("/clue/<int:clue_id>/notice", methods=["POST"])
@login_required
def notice(clue_id: int) -> Any:
    raw = request.form.get("deadline", "").strip()
    try:
        try:
            deadline = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationFailed("bad deadline", {"deadline": _("Enter the deadline as a date.")}) from None
        engine().run(ladder.issue_supervision_notice, current_user.username, clue_id,
                     request.form.get("text", ""), deadline)
    except ValidationFailed as exc:
        _refused(exc)
    else:
        flash(_("Supervision notice issued."), "success")
    return redirect(url_for("clues.show", clue_id=clue_id))


@bp.route("/clue/<int:clue_id>/listing", methods=["POST"])
@login_required
def listing(clue_id: int) -> Any:
    listed = request.form.get("listed") == "1"
    try:
        engine().run(ladder.list_for_supervision, current_user.username, clue_id, listed,
                     request.form.get("reason", ""))
    except ValidationFailed as exc:
        _refused(exc)
    else:
        flash(_("Listed for supervision.") if listed else _("Taken off the supervision list."), "success")
    return redirect(url_for("clues.show", clue_id=clue_id))
