"""What one engine operation works with: the shared runtime and this transaction's session."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from .clock import Clock
from .definitions import SpecCache
from .forms import FormRegistry
from .settings import EngineSettings

# A service task operation: (context, parameters, task data) -> JSON-able result.
Service = Callable[["Context", dict[str, Any], dict[str, Any]], Any]


@dataclass
class Runtime:
    """Long-lived and shared by all operations of one Engine."""

    settings: EngineSettings
    clock: Clock
    specs: SpecCache
    forms: FormRegistry
    script_engine: PythonScriptEngine
    services: dict[str, Service] = field(default_factory=dict)

    def compile_script(self, source: str, mode: str) -> Any:
        return self.script_engine.environment.compile(source, mode)


@dataclass
class Context:
    """One transaction. `now` is read once so that every row written by it agrees on the time."""

    session: Session
    runtime: Runtime
    now: datetime
    # Rows that cannot change within this transaction (the newest definition, the current
    # campaign), looked up once when one operation starts many instances (an import).
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def hash_alg(self) -> str:
        return self.runtime.settings.history_hash
