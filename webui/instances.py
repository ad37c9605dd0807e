"""Process instances for supervisors: the list across all clues and processes, the errors
inbox, one instance (diagram with visits, timeline, hash-chain status) and the supervisor
actions on it. Who may see and do what is decided in engine.instance_view and
engine.supervisor_actions; each view is one engine call."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound as HttpNotFound

from engine import instance_view, supervisor_actions
from engine.errors import Conflict, ValidationFailed
from engine.ledger import LABELS

from .db import engine
from .downloads import attachment

bp = Blueprint("instances", __name__, url_prefix="/instances")
PER_PAGE = 50


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in instance_view.FILTERS}


@bp.route("/")
@login_required
def index() -> Any:
    filters = _filters()
    page = engine().run(instance_view.list_instances, current_user.username, filters, _page(), PER_PAGE)
    return render_template("instances/index.html", page=page, filters=filters, labels=LABELS, current=_page(),
                           per_page=PER_PAGE, statuses=instance_view.STATUSES, errors_only=False)


@bp.route("/errors")
@login_required
def errors() -> Any:
    filters = {**_filters(), "status": "error"}
    page = engine().run(instance_view.list_instances, current_user.username, filters, _page(), PER_PAGE)
    return render_template("instances/errors.html", page=page, filters=filters, labels=LABELS, current=_page(),
                           per_page=PER_PAGE)


@bp.route("/<int:instance_id>")
@login_required
def show(instance_id: int) -> Any:
    detail = engine().run(instance_view.instance_detail, current_user.username, instance_id)
    return render_template("instances/show.html", instance=detail, labels=LABELS)


@bp.route("/clue/<int:clue_id>")
@login_required
def of_clue(clue_id: int) -> Any:
    detail = engine().run(instance_view.clue_instance_detail, current_user.username, clue_id)
    return render_template("instances/show.html", instance=detail, labels=LABELS)


@bp.route("/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int) -> Any:
    xml = engine().run(instance_view.diagram_xml, current_user.username, instance_id)
    return attachment(xml, f"instance-{instance_id}.bpmn")


@bp.route("/<int:instance_id>/<action>", methods=["POST"])
@login_required
def act(instance_id: int, action: str) -> Any:
    operation = supervisor_actions.ACTIONS.get(action)
    if operation is None:
        raise HttpNotFound()
    form = request.form
    args: list[Any] = [current_user.username, instance_id]
    kwargs: dict[str, Any] = {}
    try:
        if action == "reassign":
            args.append(form.get("unit", "").strip())
        args.append(form.get("reason", ""))
        if action == "reopen" and form.get("element_id"):
            kwargs["element_id"] = form["element_id"]
        if action == "retry" and form.get("variables", "").strip():
            try:
                kwargs["variables"] = json.loads(form["variables"])
            except ValueError:
                raise ValidationFailed("bad JSON", {"variables": _("Enter the corrected variables as a JSON object.")}) from None
        result = engine().run(operation, *args, **kwargs)
    except (ValidationFailed, Conflict) as exc:
        fields = getattr(exc, "fields", {}) or {}
        flash(" ".join(fields.values()) or str(exc), "danger")
        return redirect(url_for("instances.show", instance_id=instance_id))
    message = {"suspend": _("Instance suspended."), "resume": _("Instance resumed."),
               "terminate": _("Instance terminated."), "reassign": _("Responsible unit reassigned."),
               "reopen": _("Clue reopened."), "retry": _("Instance retried.")}[action]
    if result.get("status") == "error":
        flash(_("The instance failed again: %(message)s", message=result["error"]["message"]), "warning")
    else:
        flash(message, "success")
    return redirect(url_for("instances.show", instance_id=instance_id))
