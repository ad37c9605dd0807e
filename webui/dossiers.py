"""Documents of a clue and the credit records: the case file (案卷), the clue's diagram with
the path taken, the referral dossier (移送材料) and its receipt, and the government credit
records (政务信用记录) with their Excel export. Every check is the engine's."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import case_file, credit, referral
from engine.errors import Conflict, ValidationFailed
from engine.ledger import LABELS

from .db import engine

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _document(content: bytes, filename: str, mimetype: str) -> Response:
    response = Response(content, mimetype=mimetype)
    # RFC 6266: an ASCII fallback and the UTF-8 name for browsers that read it.
    fallback = "".join(ch if ch.isascii() and ch.isalnum() or ch in "._-" else "_" for ch in filename)
    response.headers["Content-Disposition"] = (f"attachment; filename=\"{fallback}\"; "
                                               f"filename*=UTF-8''{quote(filename)}")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/clue/<int:clue_id>/case-file.docx")
@login_required
def case_file_docx(clue_id: int) -> Any:
    content, filename = engine().run(case_file.build_case_file, current_user.username, clue_id)
    return _document(content, filename, case_file.DOCX_TYPE)


@bp.route("/clue/<int:clue_id>/diagram.png")
@login_required
def diagram(clue_id: int) -> Any:
    png = engine().run(case_file.clue_diagram, current_user.username, clue_id)
    if png is None:
        return render_template("errors/error.html", status=404, message=_("This process has no diagram.")), 404
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/referrals")
@login_required
def referrals() -> Any:
    state = request.args.get("state") or ""
    received = {"received": True, "pending": False}.get(state)
    try:
        page_number = int(request.args.get("page") or 1)
    except ValueError:
        raise ValidationFailed("bad page", {"page": "应为整数"}) from None
    page = engine().run(referral.list_referrals, current_user.username, received, page_number)
    return render_template("dossiers/referrals.html", page=page, state=state, labels=LABELS)


@bp.route("/clue/<int:clue_id>/referral")
@login_required
def referral_page(clue_id: int) -> Any:
    data = engine().run(referral.referral_of, current_user.username, clue_id)
    return render_template("dossiers/referral.html", referral=data)


@bp.route("/clue/<int:clue_id>/referral.docx")
@login_required
def referral_docx(clue_id: int) -> Any:
    content, filename = engine().run(referral.build_dossier, current_user.username, clue_id)
    return _document(content, filename, case_file.DOCX_TYPE)


@bp.route("/clue/<int:clue_id>/receipt", methods=["POST"])
@login_required
def receipt(clue_id: int) -> Any:
    try:
        engine().run(referral.record_receipt, current_user.username, clue_id, request.form.get("note", ""))
    except ValidationFailed as exc:
        flash(" ".join(exc.fields.values()) or str(exc), "danger")
    except Conflict as exc:
        flash(_("The receipt could not be recorded: %(reason)s", reason=str(exc)), "warning")
    else:
        flash(_("Receipt of the referral dossier recorded."), "success")
    return redirect(url_for("dossiers.referral_page", clue_id=clue_id))


@bp.route("/credit")
@login_required
def credit_records() -> Any:
    query = credit.CreditQuery.from_args(request.args.to_dict())
    page = engine().run(credit.list_records, current_user.username, query)
    return render_template("dossiers/credit.html", page=page, query=query, labels=LABELS,
                           bases=credit.BASIS_LABELS)


@bp.route("/credit.xlsx")
@login_required
def credit_export() -> Any:
    args = {k: v for k, v in request.args.to_dict().items() if k not in ("page", "per_page")}
    content, rows = engine().run(credit.export_records, current_user.username, credit.CreditQuery.from_args(args))
    response = _document(content, "credit-records.xlsx", XLSX)
    response.headers["X-Row-Count"] = str(rows)
    return response
