"""The user's own display preferences (engine/preferences.py): the 大字模式 switch."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request
from flask_login import current_user, login_required

from engine import preferences

from .db import engine
from .redirects import next_or_home

bp = Blueprint("preferences", __name__, url_prefix="/preferences")


@bp.route("/large-text", methods=["POST"])
@login_required
def large_text() -> Any:
    engine().run(preferences.set_large_text, current_user.username, request.form.get("on") == "1")
    return redirect(next_or_home(request.form.get("next")))
