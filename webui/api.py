"""The JSON REST API (/api): clues, tasks and the OpenAPI document.

Views are thin: parse the request, run one engine function, return its JSON. Engine errors
become JSON statuses in errors.py (422 with "fields", 409, 403, 404).

Authentication is the browser session or `Authorization: Bearer <token>`; either gives
`current_user`, and no credential gives a 401 JSON answer, never a redirect. A Bearer request
is authenticated by its token alone (an invalid token is a 401 even beside a session cookie),
so it needs no CSRF token; a state-changing request that relies on the session cookie must
still carry one (X-CSRFToken header).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request, url_for
from flask_login import current_user
from flask_login.signals import user_loaded_from_request

from engine import clues, ledger, money, tasks
from engine.errors import ValidationFailed

from . import csrf
from .auth import load_user_from_token, login_manager
from .db import engine
from .openapi import build_document

bp = Blueprint("api", __name__, url_prefix="/api")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
TASK_FILTERS = ("category", "stage", "unit", "q")
_PUBLIC: set[str] = set()


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as answering without a login (the OpenAPI document)."""
    _PUBLIC.add(f"{bp.name}.{view.__name__}")
    return view


def init_app(app: Flask) -> None:
    csrf.exempt(bp)  # CSRF is checked below, for session-cookie requests only
    user_loaded_from_request.connect(_note_token_user, app)


def _note_token_user(app: Flask, user: Any = None, **_: Any) -> None:
    g.api_token_user = user


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def _unauthorized(detail: str) -> Any:
    response = jsonify({"error": "unauthorized", "message": "未登录，或 API 令牌无效、已撤销", "detail": detail})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="chengxin"'
    return response


@bp.before_request
def authenticate() -> Any:
    if request.method == "OPTIONS":
        return None
    if _bearer_token() is not None:
        if g.get("api_token_user") is None:  # the request loader did not run (or a session user came first)
            user = load_user_from_token(request)
            if user is None:
                return _unauthorized("invalid or revoked API token")
            login_manager._update_request_context_with_user(user)  # the token wins over any session
            g.api_token_user = user
    elif request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        if current_user.is_authenticated:
            csrf.protect()
    if request.endpoint not in _PUBLIC and not current_user.is_authenticated:
        return _unauthorized("authentication required: sign in or send Authorization: Bearer <token>")
    return None


# --- request parsing ----------------------------------------------------------------------------

def _body(exact: bool = False) -> dict[str, Any]:
    """The JSON object posted; with `exact`, fractions stay Decimal and exponent notation stays
    text (engine.money.loads_exact), so an amount such as 1e3 or 12.345 is refused, not rounded."""
    if exact:
        try:
            body = money.loads_exact(request.get_data(cache=True)) if request.is_json else None
        except ValueError:
            body = None
    else:
        body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体应为 JSON 对象（Content-Type: application/json）",
                               {"body": "应为 JSON 对象"})
    return body


def _confirm_warnings(body: dict[str, Any]) -> bool:
    """`confirm_warnings: true` beside the data confirms what a 422 `confirmation_required` listed."""
    value = body.pop("confirm_warnings", False)
    if not isinstance(value, bool):
        raise ValidationFailed("confirm_warnings 应为 true 或 false", {"confirm_warnings": "应为 true 或 false"})
    return value


def _int_arg(name: str, default: int | None, low: int, high: int | None, errors: dict[str, str]) -> int | None:
    raw = request.args.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = "应为整数"
        return default
    if value < low or (high is not None and value > high):
        errors[name] = f"应在 {low}–{high} 之间" if high is not None else f"应不小于 {low}"
    return value


def _task_query() -> dict[str, Any]:
    errors: dict[str, str] = {}
    page = _int_arg("page", 1, 1, None, errors)
    per_page = _int_arg("per_page", 50, 1, ledger.MAX_PER_PAGE, errors)
    clue_id = _int_arg("clue_id", None, 1, None, errors)
    filters: dict[str, Any] = {k: request.args.get(k, "").strip() for k in TASK_FILTERS}
    overdue = request.args.get("overdue", "").strip().lower()
    if overdue not in ("", *TRUE, *FALSE):
        errors["overdue"] = "应为 true 或 false"
    filters["overdue"] = overdue in TRUE or None
    if errors:
        raise ValidationFailed("查询参数有误", errors)
    return {"clue_id": clue_id, "page": page, "per_page": per_page, "filters": filters}


# --- clues --------------------------------------------------------------------------------------

@bp.post("/clues")
def create_clue() -> Any:
    key = request.headers.get("Idempotency-Key")
    body = _body(exact=True)
    confirm = _confirm_warnings(body)
    created = engine().run(clues.add_clue, current_user.username, body, submission_token=key,
                           refuse_changed=True, token_field="Idempotency-Key", confirm_warnings=confirm)
    headers = {"Location": url_for(".get_clue", clue_id=created["clue_id"])}
    if created["replayed"]:
        return jsonify(created), 200, {**headers, "Idempotent-Replayed": "true"}
    return jsonify(created), 201, headers


@bp.get("/clues")
def list_clues() -> Any:
    query = ledger.LedgerQuery.from_args(request.args.to_dict())
    return jsonify(engine().run(ledger.list_clues, current_user.username, query))


@bp.get("/clues/<int:clue_id>")
def get_clue(clue_id: int) -> Any:
    return jsonify(engine().run(clues.view_clue, current_user.username, clue_id))


@bp.get("/clues/<int:clue_id>/history")
def clue_history(clue_id: int) -> Any:
    # view_clue checks who may see the clue and hides complainant data from the others.
    clue = engine().run(clues.view_clue, current_user.username, clue_id)
    return jsonify({"clue_id": clue["clue_id"], "instance_id": clue["instance_id"],
                    "items": clue["history"], "total": len(clue["history"])})


# --- tasks --------------------------------------------------------------------------------------

@bp.get("/tasks")
def list_tasks() -> Any:
    q = _task_query()
    page = engine().run(tasks.list_tasks, current_user.username, q["clue_id"], q["page"], q["per_page"], q["filters"])
    return jsonify({**page, "page": q["page"], "per_page": q["per_page"]})


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Any:
    return jsonify(engine().run(tasks.show_task, task_id, current_user.username))


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Any:
    return jsonify(engine().run(tasks.claim_task, task_id, current_user.username))


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Any:
    return jsonify(engine().run(tasks.release_task, task_id, current_user.username))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Any:
    body = _body(exact=True)
    confirm = _confirm_warnings(body)
    if "data" not in body:
        raise ValidationFailed("请求体缺少 data", {"data": "必填"})
    if not isinstance(body["data"], dict):
        raise ValidationFailed("data 应为 JSON 对象", {"data": "应为 JSON 对象"})
    return jsonify(engine().run(tasks.complete_task, task_id, current_user.username, body["data"], confirm))


# --- the document -------------------------------------------------------------------------------

@bp.get("/openapi.json")
@public
def openapi() -> Any:
    return jsonify(build_document(engine().runtime.forms, current_app.config.get("SESSION_COOKIE_NAME", "session")))
