"""Notifications (通知): the bell in the navbar, the list, marking read.

The bell's count is an htmx fragment (GET /notifications/bell, polled every 60 s). A poll is
not activity: it must not keep an idle session alive (等保 2.0 idle timeout), so the view puts
back the last-activity time the app's before_request hook just moved forward.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import notifications

from .db import engine

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 20


@bp.url_value_preprocessor
def _remember_last_activity(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before every before_request hook, including the idle-timeout one.
    if endpoint == "notifications.bell":
        g.last_seen_before_poll = session.get("last_seen")


@bp.route("/bell")
@login_required
def bell() -> Any:
    if g.get("last_seen_before_poll") is not None:
        session["last_seen"] = g.last_seen_before_poll
    count = engine().run(notifications.unread_count, current_user.username)
    response = render_template("notifications/bell.html", count=count)
    return response, 200, {"Cache-Control": "no-store"}


@bp.route("/")
@login_required
def index() -> Any:
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    unread_only = request.args.get("unread") == "1"
    page = engine().run(notifications.list_notifications, current_user.username, page_no, PER_PAGE, unread_only)
    return render_template("notifications/index.html", page=page, current=page_no, per_page=PER_PAGE,
                           unread_only=unread_only, kinds=kind_labels())


@bp.route("/read", methods=["POST"])
@login_required
def read() -> Any:
    """Mark the ticked notifications (or all of them, with all=1) read."""
    if request.form.get("all") == "1":
        ids: Any = "all"
    else:
        ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    engine().run(notifications.mark_read, current_user.username, ids)
    return redirect(url_for("notifications.index", unread=request.form.get("unread") or None))


@bp.route("/<int:notification_id>")
@login_required
def follow(notification_id: int) -> Any:
    """Follow a notification: marked read, then its link, its clue or the list."""
    item = engine().run(notifications.open_notification, current_user.username, notification_id)
    if item["link"]:
        return redirect(item["link"])
    if item["clue_id"]:
        return redirect(url_for("clues.show", clue_id=item["clue_id"]))
    return redirect(url_for("notifications.index"))


def kind_labels() -> dict[str, str]:
    return {"reminder_3d": _("Reminder"), "reminder_1d": _("Reminder"), "chase": _("Chase"),
            "escalation_unit_leader": _("Escalation"), "escalation_group": _("Escalation"),
            "escalation_office": _("Escalation"), "digest": _("Daily digest"),
            "supervision_notice": _("Supervision notice"), "supervision_listed": _("Listed for supervision"),
            "supervision_unlisted": _("Taken off the supervision list")}

