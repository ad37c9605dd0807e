"""待办 and 已办: the tasks a user may act on, and what they have done."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import tasks
from engine.ledger import LABELS

from .db import engine
from .redirects import back_to_referrer

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
PER_PAGE = 25


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


@bp.route("/")
@login_required
def index() -> Any:
    filters = {k: request.args.get(k, "").strip() for k in tasks.INBOX_FILTERS}
    page = engine().run(tasks.list_tasks, current_user.username, None, _page(), PER_PAGE, filters)
    return render_template("inbox/index.html", page=page, filters=filters, labels=LABELS, current=_page(),
                           per_page=PER_PAGE)


@bp.route("/done")
@login_required
def done() -> Any:
    page = engine().run(tasks.done_tasks, current_user.username, _page(), PER_PAGE)
    return render_template("inbox/done.html", page=page, current=_page(), per_page=PER_PAGE)


@bp.route("/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Any:
    engine().run(tasks.claim_task, task_id, current_user.username)
    return redirect(back_to_referrer())


@bp.route("/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Any:
    engine().run(tasks.release_task, task_id, current_user.username)
    return redirect(back_to_referrer())
