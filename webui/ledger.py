"""工作台账: the ledger and its Excel export (the same filter, every matching row)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from engine import ledger

from .db import engine

bp = Blueprint("ledger", __name__, url_prefix="/ledger")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/")
@login_required
def index() -> Any:
    query = ledger.LedgerQuery.from_args(request.args.to_dict())
    page = engine().run(ledger.list_clues, current_user.username, query)
    return render_template("ledger/index.html", page=page, query=query, labels=ledger.LABELS)


@bp.route("/export.xlsx")
@login_required
def export() -> Any:
    args = {k: v for k, v in request.args.to_dict().items() if k not in ("page", "per_page")}
    content, rows = engine().run(ledger.export_clues, current_user.username, ledger.LedgerQuery.from_args(args))
    return Response(content, mimetype=XLSX, headers={
        "Content-Disposition": "attachment; filename=ledger.xlsx", "X-Row-Count": str(rows)})
