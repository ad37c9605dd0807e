"""The campaign calendar (实施步骤) for the office: see the phase dates and move them.

Moving a date goes through engine.campaigns.update_calendar, which also moves the timers
already waiting for that phase and records the change; this page only reads the form.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine import campaigns, workdays
from engine.errors import ValidationFailed

from .db import engine

bp = Blueprint("campaigns", __name__, url_prefix="/campaign")

PHASE_LABELS = {
    "starts_on": _l("Campaign starts"),
    "investigation_ends_on": _l("Investigation ends"),
    "rectification_ends_on": _l("Rectification ends"),
    "spot_check_starts_on": _l("Spot check starts"),
    "spot_check_ends_on": _l("Spot check ends"),
    "ends_on": _l("Campaign ends"),
}


def _page(calendar: dict[str, Any], values: dict[str, str], errors: dict[str, str], problem: str | None = None,
          status: int = 200) -> Any:
    return render_template("campaigns/index.html", calendar=calendar, values=values, errors=errors,
                           problem=problem, labels=PHASE_LABELS), status


def _field_message(name: str) -> str:
    order = list(campaigns.PHASES)
    if name in order and order.index(name) > 0:
        return _("Must not be before %(previous)s.", previous=PHASE_LABELS[order[order.index(name) - 1]])
    return _("Enter a date (YYYY-MM-DD).")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    calendar = engine().run(campaigns.calendar_of, current_user.username)  # Forbidden → the 403 page
    if request.method == "GET":
        return _page(calendar, calendar["phases"], {})
    values = {name: request.form.get(name, "").strip() for name in campaigns.PHASES}
    changes: dict[str, date] = {}
    errors: dict[str, str] = {}
    for name, text in values.items():
        try:
            changes[name] = date.fromisoformat(text)
        except ValueError:
            errors[name] = _("Enter a date (YYYY-MM-DD).")
    if errors:
        return _page(calendar, values, errors, status=422)
    try:
        result = engine().run(campaigns.update_calendar, current_user.username, changes, calendar["id"])
    except ValidationFailed as exc:
        problem = _("A waiting timer could not be moved; nothing was changed.") if "calendar" in exc.fields else None
        errors = {name: _field_message(name) for name in exc.fields if name in campaigns.PHASES}
        return _page(calendar, values, errors, problem, status=422)
    if not result["changed"]:
        flash(_("Nothing changed."), "info")
    else:
        flash(_("Calendar saved: %(instances)s instance(s) updated, %(timers)s waiting timer(s) rescheduled.",
                instances=result["instances_updated"], timers=result["timers_rescheduled"]), "success")
        if result["pending"]:
            flash(_("About %(pending)s more instance(s) are being rescheduled in the background; "
                    "progress is shown below.", pending=result["pending"]), "info")
    return redirect(url_for("campaigns.index"))


@bp.route("/changes", methods=["GET"])
@login_required
def changes() -> Any:
    """htmx: the progress of the latest calendar changes (polled while one is unfinished)."""
    found = engine().run(campaigns.calendar_changes, current_user.username)  # Forbidden → 403
    return render_template("campaigns/_changes.html", changes=found, labels=PHASE_LABELS)


WEEKDAYS = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"), 5: _l("Friday"),
            6: _l("Saturday"), 7: _l("Sunday")}


@bp.route("/workdays", methods=["GET"])
@login_required
def workdays_preview() -> Any:
    """htmx: the date a deadline of N working days falls on, shown under a form's count field."""
    field = request.args.get("field", "n")
    raw = request.args.get(field, "").strip()
    if not raw:
        return render_template("campaigns/_workdays.html", result=None, problem=None)
    try:
        result = engine().run(workdays.working_day_deadline, raw)
    except ValidationFailed as exc:
        return render_template("campaigns/_workdays.html", result=None, problem=exc.fields.get("n", str(exc)))
    return render_template("campaigns/_workdays.html", result=result, problem=None,
                           weekday=WEEKDAYS[result["weekday"]])
