"""Chengxin's engine: every behaviour of the system, with no web framework in sight.

Callers build an `Engine(EngineSettings(...), clock)` and call its methods; each is one
database transaction. See engine/README.md for the rules this package keeps.
"""
from .clock import FixedClock, SystemClock
from .engine import Engine
from .errors import (ConfirmationRequired, Conflict, DefinitionRejected, EngineError, Forbidden, NotFound,
                     ValidationFailed)
from .settings import EngineSettings

__all__ = ["Engine", "EngineSettings", "FixedClock", "SystemClock", "EngineError", "NotFound", "Conflict",
           "Forbidden", "ValidationFailed", "ConfirmationRequired", "DefinitionRejected"]
