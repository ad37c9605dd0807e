"""Reading our conventions off SpiffWorkflow task objects (see engine/README.md)."""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


def properties(task: Task) -> dict[str, str]:
    """The task's spiffworkflow:properties (formKey, stage, candidateUnit, ...)."""
    return getattr(task.task_spec, "extensions", {}).get("properties", {})


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return workflow.get_tasks(state=TaskState.READY, manual=True)
