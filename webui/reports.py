"""Generated documents: the dispatch notice (调度通报) for any period and the year-end summaries
(年终总结) per unit and for the city, downloaded as .docx.

Who: the office and the supervisor (read-only, the documents change nothing) get the dispatch
notice, every unit's summary and the city's; a unit user gets its own unit's summary. The
engine decides (engine.dispatch_notice, engine.year_end); these views only parse and send.
"""
from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import dispatch_notice, year_end
from engine.errors import ValidationFailed

from .db import engine

bp = Blueprint("reports", __name__, url_prefix="/reports")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NOTICE_ARGS = ("start", "end", "number", "issuer")


def _download(content: bytes, filename: str) -> Any:
    # send_file writes both an ASCII fallback name and the UTF-8 filename* for the Chinese one.
    response = send_file(BytesIO(content), mimetype=DOCX, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def _notice_args() -> dict[str, str]:
    return {k: request.args.get(k, "") for k in NOTICE_ARGS}


@bp.route("/dispatch")
@login_required
def dispatch() -> Any:
    form = engine().run(dispatch_notice.notice_form, current_user.username, _notice_args())
    return render_template("reports/dispatch.html", form=form), 422 if form["errors"] else 200


@bp.route("/dispatch/notice.docx")
@login_required
def notice() -> Any:
    args = _notice_args()
    try:
        content, filename = engine().run(dispatch_notice.dispatch_notice, current_user.username, args)
    except ValidationFailed as exc:
        form = {"values": args, "errors": exc.fields}
        return render_template("reports/dispatch.html", form=form), 422
    return _download(content, filename)


def _campaign_id() -> int | None:
    raw = request.args.get("campaign", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        abort(400, _("Choose a campaign from the list."))
    return int(raw)


@bp.route("/year-end")
@login_required
def year_end_index() -> Any:
    page = engine().run(year_end.year_end_index, current_user.username, _campaign_id())
    return render_template("reports/year_end.html", page=page)


@bp.route("/year-end/city.docx")
@login_required
def city() -> Any:
    return _download(*engine().run(year_end.city_summary, current_user.username, _campaign_id()))


@bp.route("/year-end/unit/<code>.docx")
@login_required
def unit(code: str) -> Any:
    return _download(*engine().run(year_end.unit_summary, current_user.username, code, _campaign_id()))
