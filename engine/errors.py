"""The engine's errors. The CLI maps them to exit codes and the web UI to HTTP statuses."""
from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Anything the engine refuses or cannot do.

    `str(error)` is the detail for developers and the log; `user_message`, when the engine knows
    what to tell the person in plain Chinese, is what a page shows instead.
    """

    code = "error"
    user_message: str | None = None

    def __init__(self, *args: Any, user_message: str | None = None) -> None:
        super().__init__(*args)
        if user_message is not None:
            self.user_message = user_message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self)}


class NotFound(EngineError):
    code = "not_found"


class Conflict(EngineError):
    """The world changed under the caller: a task no longer ready, a stale instance version."""

    code = "conflict"


class Forbidden(EngineError):
    code = "forbidden"


class ValidationFailed(EngineError):
    """Submitted data is invalid; `fields` maps each field to its message."""

    code = "invalid"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "fields": self.fields}


class ConfirmationRequired(ValidationFailed):
    """Submitted data is possible but unusual (a past deadline, more paid than owed): `fields` maps
    each field to why. The same submission goes through when the caller confirms
    (`confirm_warnings`)."""

    code = "confirmation_required"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "confirm_with": "confirm_warnings"}


class DefinitionRejected(EngineError):
    """A BPMN/DMN upload that will not be deployed; each problem names its element."""

    code = "definition_rejected"

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p.get('element_id') or '-'}: {p['reason']}" for p in problems[:5]))
        self.problems = problems

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "problems": self.problems}


class ScriptRejected(EngineError):
    """A diagram script or expression uses something the restricted environment forbids."""

    code = "script_rejected"
