"""The restricted environment that runs diagram scripts, conditions, timer and DMN expressions.

A guard-rail for designer-written code, not a sandbox against a determined attacker: the AST
is checked (no import, def, lambda, class, while, try, match, dunder names, `_` attributes,
frame attributes or str.format), builtins are a short whitelist with a bounded range(), each
evaluation has a time limit checked between Python lines (a single huge C-level operation
such as `10**10**9` is not interrupted), and the only other names are the helpers below. Anything refused raises ScriptRejected at deploy time,
because definitions.py compiles every expression before a diagram is accepted.
"""
from __future__ import annotations

import ast
import builtins
import contextvars
import hashlib
import json
import sys
import time as _time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import CodeType, FrameType
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from . import money
from .clock import SHANGHAI, Clock, local_day_start
from .errors import ScriptRejected
from .workdays import add_workdays

SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "abs all any bool dict divmod enumerate filter float int isinstance len list map max min "
        "reversed round set sorted str sum tuple zip True False None ValueError KeyError"
    ).split()
}

_FORBIDDEN = (
    ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Lambda, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.With, ast.AsyncWith, ast.Try, ast.Raise, ast.Await,
    ast.Yield, ast.YieldFrom, ast.Delete, ast.While, ast.TryStar, ast.Match,
)
# str.format and friends reach attributes through the format string ("{0.__class__}");
# frame, code and traceback attributes lead back to real builtins.
_FORBIDDEN_ATTRIBUTES = {
    "format", "format_map", "mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "tb_next", "co_code",
}
MAX_RANGE = 1_000_000


def _bounded_range(*args: int) -> range:
    # A builtin looping in C never reaches the trace hook that enforces the time limit,
    # so the one builtin that makes unbounded sequences from small numbers is capped.
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range of {len(result)} items exceeds the limit of {MAX_RANGE}")
    return result


SAFE_BUILTINS["range"] = _bounded_range


def check_source(source: str, mode: str) -> ast.AST:
    """Parse and vet one script ('exec') or expression ('eval').

    :raises ScriptRejected: on a syntax error or a forbidden construct.
    """
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptRejected(f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN):
            raise ScriptRejected(f"{type(node).__name__} is not allowed in scripts")
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRIBUTES):
            raise ScriptRejected(f"attribute {node.attr!r} is not allowed in scripts")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ScriptRejected(f"name {node.id!r} is not allowed in scripts")
    return tree


# Service tasks hand their call to whoever runs the current engine operation.
ServiceHandler = Callable[[str, dict[str, Any], dict[str, Any]], Any]
current_service_handler: contextvars.ContextVar[ServiceHandler | None] = contextvars.ContextVar(
    "chengxin_service_handler", default=None
)


def make_helpers(clock: Clock) -> dict[str, Callable[..., Any]]:
    """Functions diagram authors may call; all time comes from the engine's clock."""

    def now_iso() -> str:
        return clock.now().astimezone(SHANGHAI).isoformat()

    def end_of_day(day: str | date) -> str:
        day = date.fromisoformat(day[:10]) if isinstance(day, str) else day
        return local_day_start(day + timedelta(days=1)).isoformat()

    def add_days(moment: str, days: float) -> str:
        return (datetime.fromisoformat(moment) + timedelta(days=days)).isoformat()

    def sampled(key: Any, rate: float) -> bool:
        # Deterministic: the same clue and rate always give the same answer, so the
        # decision can be re-derived and audited; SM3 spreads keys evenly.
        digest = hashlib.new("sm3", f"spot-check:{key}".encode()).hexdigest()
        return int(digest[:8], 16) / 0x1_0000_0000 < float(rate)

    # add_workdays(date_or_iso, n) -> "YYYY-MM-DD": the n-th working day after (n < 0: before)
    # that day in the Chinese holiday calendar with its make-up working days (engine.workdays).
    def as_amount(value: Any) -> Any:
        # Amounts live in process data as exact strings ("1280000.00"): compare them as numbers
        # with as_amount(amount_owed) > 0 (an empty amount is 0).
        return money.of(value) or money.of("0")

    return {"now_iso": now_iso, "end_of_day": end_of_day, "add_days": add_days, "sampled": sampled,
            "add_workdays": add_workdays, "as_amount": as_amount}


class ScriptTimeout(Exception):
    pass


class RestrictedEnvironment(TaskDataEnvironment):
    """Task-data environment with vetted, cached code and a per-evaluation time limit."""

    def __init__(self, helpers: dict[str, Callable[..., Any]], time_limit: float) -> None:
        super().__init__({**helpers, "__builtins__": SAFE_BUILTINS})
        self.time_limit = time_limit
        self._compiled: dict[tuple[str, str], CodeType] = {}

    def compile(self, source: str, mode: str) -> CodeType:
        key = (source, mode)
        code = self._compiled.get(key)
        if code is None:
            code = compile(check_source(source, mode), "<diagram>", mode)
            self._compiled[key] = code
        return code

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        return self._limited(super().evaluate, self.compile(expression, "eval"), context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        return self._limited(super().execute, self.compile(script, "exec"), context, external_context)

    def call_service(self, context: dict[str, Any], operation_name: str, operation_params: dict[str, Any], **_: Any) -> str:
        handler = current_service_handler.get()
        if handler is None:
            raise ScriptRejected(f"service {operation_name!r} is not available here")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        return json.dumps(handler(operation_name, params, context))

    def _limited(self, run: Callable[..., Any], code: CodeType, *args: Any) -> Any:
        # A trace hook only while designer code runs: loops and comprehensions produce
        # line events, so a runaway script stops instead of hanging a worker.
        deadline = _time.monotonic() + self.time_limit

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            if _time.monotonic() > deadline:
                raise ScriptTimeout(f"script ran longer than {self.time_limit:g} s")
            return tracer

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            return run(code, *args)
        finally:
            sys.settrace(previous)


class ScriptEngine(PythonScriptEngine):
    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # SpiffWorkflow 3.2's own error path here raises NameError and loses the real
        # error (SPIFF_NOTES pitfall 16); report it against the task instead.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:  # noqa: BLE001 - any failure becomes the instance's error
            raise WorkflowTaskException(f"service {kwargs.get('operation_name')!r} failed: {err}", task=task,
                                        exception=err) from err


def make_script_engine(clock: Clock, time_limit: float) -> PythonScriptEngine:
    return ScriptEngine(environment=RestrictedEnvironment(make_helpers(clock), time_limit))
