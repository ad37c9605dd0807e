"""线索登记 (intake) and the clue page."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import clues
from engine.errors import ConfirmationRequired, ValidationFailed
from engine.ledger import LABELS

from .db import engine
from .drafts import kept_fields, keeps_typed_work, values_of
from .formdata import CONFIRM_FIELD, form_to_data

bp = Blueprint("clues", __name__, url_prefix="/clues")


@bp.route("/new", methods=["GET", "POST"])
@login_required
@keeps_typed_work
def new() -> Any:
    form = engine().run(clues.intake_form, current_user.username)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    status = 200
    # The same token survives a refused submission, so the corrected one and any Back + resubmit share it.
    token = request.form.get("submission_token") or clues.new_submission_token()
    if request.method == "POST":
        values = form_to_data(form["schema"], request.form, form.get("ui"))
        try:
            created = engine().run(clues.add_clue, current_user.username, values,
                                   submission_token=request.form.get("submission_token") or None,
                                   catch_resubmits=True, confirm_warnings=request.form.get(CONFIRM_FIELD) == "1")
        except ConfirmationRequired as exc:
            warnings, status = exc.fields, 422
        except ValidationFailed as exc:
            errors, status = exc.fields, 422
        else:
            if created["replayed"]:
                flash(_("This clue was already registered (#%(id)s); it was not submitted again.",
                        id=created["clue_id"]), "info")
                return redirect(url_for("clues.show", clue_id=created["clue_id"]))
            flash(_("Clue #%(id)s registered; it is now waiting for triage.", id=created["clue_id"]), "success")
            if created["duplicates"]:
                flash(_("Possible duplicate: the same enterprise and debtor are already open in clue(s) %(ids)s.",
                        ids=", ".join(f"#{i}" for i in created["duplicates"])), "warning")
            return redirect(url_for("clues.show", clue_id=created["clue_id"]))
    else:
        kept = kept_fields()
        if kept is not None:
            values = values_of(form["schema"], kept)
            token = kept.get("submission_token") or token
    return render_template("clues/new.html", form=form, values=values, errors=errors, warnings=warnings,
                           submission_token=token), status


@bp.route("/<int:clue_id>")
@login_required
def show(clue_id: int) -> Any:
    clue = engine().run(clues.view_clue, current_user.username, clue_id)
    return render_template("clues/show.html", clue=clue, labels=LABELS)
