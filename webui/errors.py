"""Engine errors to HTTP: JSON for the API and JSON clients, a page for people. Never a trace."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from engine import accounts
from engine.errors import Conflict, DefinitionRejected, EngineError, Forbidden, NotFound, ValidationFailed

from .db import engine

STATUS = [(ValidationFailed, 422), (DefinitionRejected, 422), (Conflict, 409), (Forbidden, 403), (NotFound, 404)]


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def status_of(exc: EngineError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def _record_refusal(reason: str) -> None:
    actor = current_user.username if current_user.is_authenticated else "-"
    engine().run(accounts.audit, actor, "refused", target=request.path, remote_addr=request.remote_addr,
                 method=request.method, reason=reason)


def init_app(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        status = status_of(exc)
        if status == 403:
            _record_refusal(str(exc))
        if wants_json():
            return jsonify(exc.to_dict()), status
        return render_template("errors/error.html", status=status, message=str(exc)), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if exc.code == 403:
            _record_refusal(exc.description or "forbidden")
        if wants_json():
            return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description}), exc.code
        return render_template("errors/error.html", status=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        if wants_json():
            return jsonify({"error": "internal", "message": "internal error"}), 500
        return render_template("errors/error.html", status=500, message=None), 500
