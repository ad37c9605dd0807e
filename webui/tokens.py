"""API tokens: each signed-in user lists, creates and revokes their own bearer tokens.

A new token's plain value is shown once, on the page answering the POST that created it
(never stored, never redirected through the session), and cannot be shown again.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import accounts

from .db import engine

bp = Blueprint("tokens", __name__, url_prefix="/tokens")
MAX_NAME = 200


def _page(created: dict[str, Any] | None = None, errors: dict[str, str] | None = None, name: str = "",
          status: int = 200) -> Any:
    tokens = engine().run(accounts.list_tokens, current_user.username)
    response = render_template("tokens/index.html", tokens=tokens, created=created, errors=errors or {}, name=name)
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    if request.method == "GET":
        return _page()
    name = request.form.get("name", "").strip()
    if len(name) > MAX_NAME:
        return _page(errors={"name": _("At most %(n)s characters.", n=MAX_NAME)}, name=name, status=422)
    created = engine().run(accounts.create_token, current_user.username, name)
    return _page(created=created, status=201)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Any:
    engine().run(accounts.revoke_token, current_user.username, token_id)  # NotFound → 404 for others' tokens
    flash(_("Token #%(id)s revoked; requests using it are now refused.", id=token_id), "success")
    return redirect(url_for("tokens.index"))
