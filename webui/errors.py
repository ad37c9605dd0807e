"""Engine errors to HTTP: JSON for the API and JSON clients, a page for people. Never a trace.

People read plain Chinese: the engine's `user_message`, a Chinese message it raised with, or a
sentence for the status. The English detail (whose clue, which task, Werkzeug's text) goes to
the log, and to API clients as `detail` beside the Chinese `message`.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from engine import audit
from engine.errors import Conflict, DefinitionRejected, EngineError, Forbidden, NotFound, ValidationFailed

from .db import engine

STATUS = [(ValidationFailed, 422), (DefinitionRejected, 422), (Conflict, 409), (Forbidden, 403), (NotFound, 404)]


_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def default_message(status: int) -> str:
    if status == 403:
        return _("Your account may not see or do this. If you think it should, ask the office.")
    if status == 404:
        return _("The page or record was not found. It may have been removed, or the address is wrong.")
    if status == 409:
        return _("This changed in the meantime (someone may have handled it already). Reload the page and try again.")
    if status == 422:
        return _("Some of the data is not valid. Check it and try again.")
    if status >= 500:
        return _("Something went wrong on the server. It has been recorded; please try again later.")
    return _("The request could not be handled. Go back and try again.")


def user_message(exc: Exception, status: int) -> str:
    """What a person is told: never English developer text."""
    told = getattr(exc, "user_message", None)
    if told:
        return str(told)
    text = str(exc) if not isinstance(exc, HTTPException) else (exc.description or "")
    return text if _CHINESE.search(text) else default_message(status)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def status_of(exc: EngineError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def _record_refusal(reason: str) -> None:
    # Counted per (user, route) and minute (engine.audit), so repeated 403s cannot flood the log.
    actor = current_user.username if current_user.is_authenticated else "-"
    route = request.url_rule.rule if request.url_rule is not None else request.path
    engine().run(audit.record_refusal, actor, route, request.path, request.remote_addr, request.method, reason[:200])


def init_app(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        status = status_of(exc)
        if status == 403:
            _record_refusal(str(exc))
        app.logger.info("%s %s %s: %s", status, request.method, request.path, exc)
        message = user_message(exc, status)
        if wants_json():
            return jsonify({**exc.to_dict(), "message": message, "detail": str(exc)}), status
        fields = {name: text for name, text in (exc.fields if isinstance(exc, ValidationFailed) else {}).items()
                  if isinstance(text, str) and _CHINESE.search(text)}
        return render_template("errors/error.html", status=status, message=message, fields=fields), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status == 403:
            _record_refusal(exc.description or "forbidden")
        app.logger.info("%s %s %s: %s", status, request.method, request.path, exc.description)
        message = user_message(exc, status)
        if wants_json():
            return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": message,
                            "detail": exc.description or exc.name}), status
        return render_template("errors/error.html", status=status, message=message, fields={}), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        message = default_message(500)
        if wants_json():
            return jsonify({"error": "internal", "message": message, "detail": "internal error"}), 500
        return render_template("errors/error.html", status=500, message=message, fields={}), 500
